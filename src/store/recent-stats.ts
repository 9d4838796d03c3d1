/**
 * What both stores share of the ops dashboard's recent stats (the last half hour per shop and
 * role, in `dashboard.bucketMs` buckets, kept in the store so every instance shows the same):
 * the wait histogram's bins, the field layout `<role>|<field>` of a bucket hash, and reading a
 * bucket back. Events add to counters (recentRecord.lua); the queue and agent gauges are
 * sampled once per bucket by whichever instance gets there first (recentSample.lua).
 */

/**
 * Upper edges (ms) of the time-to-agent histogram bins; one more bin holds everything above.
 * Fixed bins keep a percentile per bucket one HINCRBY; the answer is the edge of the bin the
 * percentile falls in (an upper bound, never an interpolation), or the bucket's largest wait
 * when that is smaller or the percentile is above the last edge.
 */
export const WAIT_BINS_MS = [1_000, 2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 45_000, 60_000, 90_000, 120_000, 180_000, 300_000, 600_000] as const;

/** Counters an event adds to (`answered` is the number of waits in the histogram). */
export const RECENT_COUNTERS = ['arrivals', 'answered', 'abandoned', 'overflowed'] as const;
export type RecentCounter = (typeof RECENT_COUNTERS)[number];

/** Gauges sampled from the queues and agents once per bucket. */
export const RECENT_GAUGES = ['waiting', 'offline', 'oldestWaitMs', 'agentsReady', 'capacity', 'inUse'] as const;
export type RecentGauge = (typeof RECENT_GAUGES)[number];

/** What one event adds to one role's bucket: counters, and a wait for the histogram. */
export interface RecentRecord {
  role: string;
  counts: Partial<Record<RecentCounter, number>>;
  /** A buyer's time to an agent, binned into the histogram (with `answered: 1`). */
  waitMs?: number;
}

export interface RecentOptions {
  bucketMs: number;
  /** How long a bucket is kept after it ends (the dashboard's window, and a margin). */
  keepMs: number;
}

/** One role in one bucket, as read back. Gauges are null when no instance sampled that bucket. */
export interface RecentBucket {
  role: string;
  bucketStart: number;
  counts: Record<RecentCounter, number>;
  gauges: Record<RecentGauge, number> | null;
  /** Waits per bin of WAIT_BINS_MS (one more for above the last edge). */
  waitBins: number[];
  waitMaxMs: number;
}

/** The histogram bin of a wait. */
export function waitBin(ms: number): number {
  const i = WAIT_BINS_MS.findIndex((edge) => ms <= edge);
  return i < 0 ? WAIT_BINS_MS.length : i;
}

/** The hash fields an event adds to (`w<bin>`) and raises (`waitMax`), for recentRecord.lua. */
export function recordFields(rec: RecentRecord): { add: Record<string, number>; max: Record<string, number> } {
  const add: Record<string, number> = {};
  for (const [k, v] of Object.entries(rec.counts)) {
    const n = Math.round(v ?? 0);
    if (n !== 0 && (RECENT_COUNTERS as readonly string[]).includes(k)) add[k] = n;
  }
  const max: Record<string, number> = {};
  if (rec.waitMs !== undefined) {
    const ms = Math.max(0, Math.round(rec.waitMs));
    add[`w${waitBin(ms)}`] = 1;
    max.waitMax = ms;
  }
  return { add, max };
}

/**
 * The `q`-quantile (0..1) of a histogram: the upper edge of the bin it falls in; the maximum
 * when that is the open bin above the last edge; null without waits.
 */
export function binQuantile(bins: readonly number[], q: number, maxMs: number): number | null {
  const total = bins.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < bins.length; i++) {
    seen += bins[i]!;
    // The largest wait is an upper bound too, and the tighter one when it is below the edge.
    if (seen >= rank) return i < WAIT_BINS_MS.length ? Math.min(WAIT_BINS_MS[i]!, maxMs) : maxMs;
  }
  return maxMs;
}

/** One bucket hash (`<role>|<field>` → number) as rows per role, sorted by role. */
export function recentRows(bucketStart: number, fields: Record<string, string | number>): RecentBucket[] {
  const byRole = new Map<string, RecentBucket>();
  for (const [field, raw] of Object.entries(fields)) {
    const bar = field.lastIndexOf('|');
    if (bar < 0) continue;
    const role = field.slice(0, bar);
    const name = field.slice(bar + 1);
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;
    let row = byRole.get(role);
    if (!row) {
      row = {
        role,
        bucketStart,
        counts: Object.fromEntries(RECENT_COUNTERS.map((c) => [c, 0])) as Record<RecentCounter, number>,
        gauges: null,
        waitBins: new Array<number>(WAIT_BINS_MS.length + 1).fill(0),
        waitMaxMs: 0,
      };
      byRole.set(role, row);
    }
    if ((RECENT_COUNTERS as readonly string[]).includes(name)) row.counts[name as RecentCounter] += value;
    else if ((RECENT_GAUGES as readonly string[]).includes(name)) {
      row.gauges ??= Object.fromEntries(RECENT_GAUGES.map((g) => [g, 0])) as Record<RecentGauge, number>;
      row.gauges[name as RecentGauge] = value;
    } else if (name === 'waitMax') row.waitMaxMs = value;
    else if (/^w\d+$/.test(name)) {
      const bin = Number(name.slice(1));
      if (bin < row.waitBins.length) row.waitBins[bin]! += value;
    }
  }
  return [...byRole.values()].sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
}
