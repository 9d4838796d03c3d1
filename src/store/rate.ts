/** Only assignments this recent say anything about how fast the line moves now. */
export const RATE_WINDOW_MS = 10 * 60_000;

/**
 * Assignments per second from recent assignment times (any order). Needs two in the window:
 * one alone says nothing about pace.
 */
export function rateOf(times: number[], now: number): number | null {
  const recent = times.filter((t) => t > now - RATE_WINDOW_MS && t <= now);
  if (recent.length < 2) return null;
  const oldest = Math.min(...recent);
  const span = Math.max(now - oldest, 1_000);
  return recent.length / (span / 1000);
}
