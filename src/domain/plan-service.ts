import { PLAN_COUNTERS, type PlanBucket } from '../store/types.ts';
import type { RoleParams } from '../plan/forecast.ts';
import { forecastFromStats, StatsError, type FromStats } from '../plan/from-stats.ts';
import { makePlan, targetOf, type Plan, type Target } from '../plan/planner.ts';
import type { Deps } from './deps.ts';

export interface PlanRequest {
  from: number;
  to: number;
  growth: number;
  start?: string | undefined;
  target?: Partial<Target> | undefined;
  roles?: string[] | undefined;
  overrides?: Record<string, RoleParams | undefined> | undefined;
}

/** The staffing plan of a shop from its recorded stats, for the admin API and the ops dashboard. */
export class PlanService {
  constructor(private readonly d: Deps) {}

  now(): number {
    return this.d.now();
  }

  get bucketMs(): number {
    return this.d.config().plan.bucketMs;
  }

  defaultTarget(): Target {
    const { answerWithinSeconds, serviceLevel, maxAbandonment } = this.d.config().plan;
    return { answerWithinSeconds, serviceLevel, maxAbandonment };
  }

  stats(shop: string, from: number, to: number): Promise<PlanBucket[]> {
    return this.d.store.planStats(shop, from, to, this.bucketMs);
  }

  async plan(shop: string, req: PlanRequest): Promise<{ plan: Plan } & Omit<FromStats, 'forecast'>> {
    const rows = await this.stats(shop, req.from, req.to);
    const { forecast, measured, skipped } = forecastFromStats(rows, {
      from: req.from,
      to: req.to,
      bucketMs: this.bucketMs,
      growth: req.growth,
      target: targetOf(this.defaultTarget(), req.target),
      roles: req.roles,
      overrides: req.overrides,
      start: req.start,
    });
    try {
      return { plan: makePlan(forecast, new Date(this.d.now())), measured, skipped };
    } catch (err) {
      // The model's own bounds (an Erlang A queue too long to sum): the input's fault.
      if (err instanceof RangeError) throw new StatsError(err.message);
      throw err;
    }
  }
}

/** The stats as CSV (RFC 4180; every field is a number or an id without commas or quotes, but quoted when not). */
export function statsCsv(shop: string, bucketMs: number, rows: PlanBucket[]): string {
  const cell = (v: string | number) => {
    const s = String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const head = ['shop', 'role', 'bucketStart', 'bucketMs', ...PLAN_COUNTERS];
  const lines = rows.map((r) => [shop, r.role, new Date(r.bucketStart).toISOString(), bucketMs, ...PLAN_COUNTERS.map((c) => r.counts[c])].map(cell).join(','));
  return `${[head.join(','), ...lines].join('\r\n')}\r\n`;
}
