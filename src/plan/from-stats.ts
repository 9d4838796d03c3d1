/**
 * A forecast from what the gateway recorded (src/store/plan-stats.ts): "last event × growth".
 * Arrivals per interval are the recorded ones (first queueing plus transfers in) times the
 * growth factor; handle time, concurrency and patience are measured over the whole window
 * unless overridden:
 *   - handle time: mean time from an agent's accept to its close or transfer;
 *   - concurrency: mean capacity the accepting agents had set, rounded (the handle time was
 *     measured with agents working at that load; the mean sessions they held is reported too);
 *   - patience (exponential): abandonments / total time spent waiting, answered and abandoned
 *     waits together — the maximum-likelihood estimate with answered waits censored. With no
 *     abandonment recorded there is no estimate, and the plan uses Erlang C.
 */
import type { PlanBucket, PlanCounter } from '../store/types.ts';
import { emptyCounts } from '../store/plan-stats.ts';
import { stripUndefined, type RoleParams } from './forecast.ts';
import type { Forecast, RoleForecast, Target } from './planner.ts';

export interface Measured {
  role: string;
  counts: Record<PlanCounter, number>;
  handleSeconds: number | null;
  /** Mean capacity of the agents at their accepts. */
  capacity: number | null;
  /** Mean sessions an agent held at an accept (that one included). */
  concurrency: number | null;
  patienceSeconds: number | null;
  averageWaitSeconds: number | null;
  abandonment: number | null;
}

export function measure(role: string, rows: PlanBucket[]): Measured {
  const c = emptyCounts();
  for (const r of rows) if (r.role === role) for (const k of Object.keys(c) as PlanCounter[]) c[k] += r.counts[k];
  const ratio = (a: number, b: number) => (b > 0 ? a / b : null);
  const exposureMs = c.waitMs + c.abandonWaitMs;
  const offered = c.assigned + c.abandoned;
  return {
    role,
    counts: c,
    handleSeconds: c.handled ? c.handleMs / c.handled / 1000 : null,
    capacity: ratio(c.capacitySum, c.assigned),
    concurrency: ratio(c.concurrencySum, c.assigned),
    patienceSeconds: c.abandoned && exposureMs > 0 ? exposureMs / c.abandoned / 1000 : null,
    averageWaitSeconds: c.assigned ? c.waitMs / c.assigned / 1000 : null,
    abandonment: ratio(c.abandoned, offered),
  };
}

export interface FromStatsOptions {
  from: number;
  to: number;
  bucketMs: number;
  growth: number;
  target: Target;
  /** Roles to plan; default every role with recorded arrivals. */
  roles?: string[] | undefined;
  overrides?: Record<string, RoleParams | undefined> | undefined;
  /** Start of the planned event (ISO); default the start of the recorded window. */
  start?: string | undefined;
}

export class StatsError extends Error {}

export interface FromStats {
  forecast: Forecast;
  measured: Measured[];
  /** Roles with arrivals that cannot be planned (no handle time measured or given), when not asked for by name. */
  skipped: { role: string; reason: string }[];
}

export function forecastFromStats(rows: PlanBucket[], o: FromStatsOptions): FromStats {
  const first = Math.ceil(o.from / o.bucketMs) * o.bucketMs;
  const count = Math.max(0, Math.ceil((o.to - first) / o.bucketMs));
  if (count === 0) throw new StatsError('the window holds no whole interval');
  const roles = o.roles ?? [...new Set(rows.filter((r) => r.counts.arrivals + r.counts.transfersIn > 0).map((r) => r.role))].sort();
  if (!roles.length) throw new StatsError('no arrivals were recorded in the window');
  const measured = roles.map((role) => measure(role, rows));
  const skipped: FromStats['skipped'] = [];
  const plannable = measured.filter((m) => {
    if (o.roles || (o.overrides?.[m.role]?.handleSeconds ?? m.handleSeconds) !== null) return true;
    skipped.push({ role: m.role, reason: 'no chat was handled in the window, so there is no handle time; give one' });
    return false;
  });
  if (!plannable.length) throw new StatsError(`no role can be planned: ${skipped.map((s) => `${s.role}: ${s.reason}`).join('; ')}`);
  const forecastRoles = plannable.map((m): RoleForecast => {
    const over = o.overrides?.[m.role] ?? {};
    const arrivals = new Array<number>(count).fill(0);
    for (const r of rows) {
      const i = Math.floor((r.bucketStart - first) / o.bucketMs);
      if (r.role === m.role && i >= 0 && i < count) arrivals[i]! += (r.counts.arrivals + r.counts.transfersIn) * o.growth;
    }
    const handleSeconds = over.handleSeconds ?? m.handleSeconds;
    if (handleSeconds === null || handleSeconds <= 0) throw new StatsError(`role ${m.role}: no chat was handled in the window, so there is no handle time; give one`);
    const patience = over.patienceSeconds === undefined ? m.patienceSeconds : over.patienceSeconds;
    return {
      role: m.role,
      arrivals,
      handleSeconds,
      concurrency: over.concurrency ?? Math.max(1, Math.round(m.capacity ?? 1)),
      patienceSeconds: patience ?? undefined,
      ...(over.target ? { target: stripUndefined(over.target) } : {}),
    };
  });
  return {
    forecast: { intervalSeconds: o.bucketMs / 1000, start: o.start ?? new Date(first).toISOString(), target: o.target, roles: forecastRoles },
    measured,
    skipped,
  };
}
