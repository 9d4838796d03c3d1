import { binQuantile, RECENT_COUNTERS, RECENT_GAUGES, type RecentBucket, type RecentCounter, type RecentGauge } from '../store/recent-stats.ts';
import { bucketStarts } from '../store/plan-stats.ts';
import type { DashboardAlert, RecentResponse, RecentRole } from '../protocol/dashboard.ts';
import type { Deps } from './deps.ts';
import { Periodic } from './periodic.ts';

/**
 * The ops dashboard's last half hour: samples every active shop's queues and agents once per
 * `dashboard.bucketMs` (the store lets one instance win each bucket), and reads the buckets
 * back as per-role series with time-to-agent percentiles and the alerts the config asks for.
 * The event counters are written where the events happen (PlanRecorder).
 */
export class Dashboard {
  private readonly sampler: Periodic;

  constructor(private readonly d: Deps) {
    this.sampler = new Periodic(() => d.config().dashboard.bucketMs / 2, () => this.sampleAll());
  }

  start(): void {
    this.sampler.start();
  }

  /** Resolves once a sample under way has finished. */
  stop(): Promise<void> {
    return this.sampler.stop();
  }

  get windowMs(): number {
    return this.d.config().dashboard.windowMs;
  }

  /** Samples every active shop into the current bucket (no-op where another instance did). */
  async sampleAll(): Promise<void> {
    const { bucketMs, windowMs } = this.d.config().dashboard;
    const roles = this.d.config().routing.roles;
    try {
      const shops = await this.d.store.activeShops();
      for (const shop of shops) await this.d.store.sampleRecent(shop, this.d.now(), roles, { bucketMs, keepMs: windowMs });
    } catch (err) {
      this.d.logger.warn({ err }, 'dashboard sample failed');
    }
  }

  async recent(shop: string, windowMs: number): Promise<RecentResponse> {
    const { bucketMs, alerts } = this.d.config().dashboard;
    const to = this.d.now();
    const from = to - windowMs;
    const [rows, queues] = await Promise.all([
      this.d.store.recentStats(shop, from, to, bucketMs),
      Promise.all(this.d.config().routing.roles.map(async (role) => ({ role, q: await this.d.store.queueStats(shop, role) }))),
    ]);
    const times = bucketStarts(from, to, bucketMs, 10_000);
    const index = new Map(times.map((t, i) => [t, i]));
    const roleIds = [...new Set([...this.d.config().routing.roles, ...rows.map((r) => r.role)])];
    const series = new Map(roleIds.map((role) => [role, emptySeries(role, times.length)]));
    for (const row of rows) {
      const i = index.get(row.bucketStart);
      if (i !== undefined) fill(series.get(row.role)!, i, row);
    }

    const found: DashboardAlert[] = [];
    for (const { role, q } of queues) {
      const waited = q.oldestArrivedAt === null ? 0 : Math.max(0, Math.round((to - q.oldestArrivedAt) / 1000));
      if (q.oldestArrivedAt !== null && waited >= alerts.oldestWaitSeconds) found.push({ role, kind: 'oldestWait', value: waited, threshold: alerts.oldestWaitSeconds });
    }
    const since = to - alerts.windowSeconds * 1000;
    const recentRows = rows.filter((r) => r.bucketStart + bucketMs > since);
    for (const role of roleIds) {
      const mine = recentRows.filter((r) => r.role === role);
      const gaveUp = mine.reduce((a, r) => a + r.counts.abandoned, 0);
      const outcomes = gaveUp + mine.reduce((a, r) => a + r.counts.answered, 0);
      const share = outcomes ? gaveUp / outcomes : 0;
      if (outcomes >= alerts.minOutcomes && share >= alerts.abandonment) found.push({ role, kind: 'abandonment', value: Math.round(share * 1000) / 1000, threshold: alerts.abandonment });
    }
    return { shop, bucketMs, from, to, times, roles: [...series.values()], alerts: found };
  }
}

/** One role's series, one value per bucket; gauges stay null where nobody sampled. */
function emptySeries(role: string, n: number): RecentRole {
  const s = { role, waitP50Ms: new Array(n).fill(null), waitP90Ms: new Array(n).fill(null) } as RecentRole;
  for (const c of RECENT_COUNTERS) s[c] = new Array<number>(n).fill(0);
  for (const g of RECENT_GAUGES) s[g] = new Array<number | null>(n).fill(null);
  return s;
}

function fill(s: RecentRole, i: number, row: RecentBucket): void {
  for (const c of RECENT_COUNTERS) s[c][i] = row.counts[c];
  if (row.gauges) for (const g of RECENT_GAUGES) s[g][i] = row.gauges[g];
  s.waitP50Ms[i] = binQuantile(row.waitBins, 0.5, row.waitMaxMs);
  s.waitP90Ms[i] = binQuantile(row.waitBins, 0.9, row.waitMaxMs);
}
