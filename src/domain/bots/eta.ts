/** Seconds until a session at `position` is likely assigned, from the role's assignment rate. */
export function etaSeconds(position: number, ratePerSecond: number | null): number | undefined {
  if (!ratePerSecond || ratePerSecond <= 0) return undefined;
  return Math.ceil(position / ratePerSecond);
}

/** How an ETA reads in bot texts (the shipped texts are Chinese). */
export function formatEta(seconds: number | undefined, unknown: string): string {
  if (seconds === undefined) return unknown;
  if (seconds < 60) return `${Math.max(seconds, 1)}秒`;
  return `${Math.ceil(seconds / 60)}分钟`;
}
