/**
 * Concurrent callers share the one call in flight: ten scrapers (or probes) at once cost one
 * collection (one probe write), not ten, however many arrive. Sequential calls stay fresh.
 */
export function singleFlight<T>(fn: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () => {
    inFlight ??= fn().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}
