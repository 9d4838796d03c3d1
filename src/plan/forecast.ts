/**
 * What a plan is computed from, and its bounds: a forecast document (a JSON file for the
 * CLI, the body of POST /v1/admin/plan), and the per-role overrides given on top of
 * recorded stats. Every number is bounded so a plan request cannot ask for unbounded work.
 */
import { z } from 'zod';
import type { Forecast, RoleForecast, Target } from './planner.ts';

export const LIMITS = {
  roles: 50,
  intervals: 2_000,
  /** Per interval. */
  arrivals: 10_000_000,
  handleSeconds: 86_400,
  /** As the protocol's agent capacity. */
  concurrency: 50,
  patienceSeconds: 86_400,
  answerWithinSeconds: 3_600,
} as const;

export const DEFAULT_TARGET: Target = { answerWithinSeconds: 20, serviceLevel: 0.8, maxAbandonment: 0.05 };
export const DEFAULT_INTERVAL_MINUTES = 15;

export const targetSchema = z
  .object({
    answerWithinSeconds: z.number().min(0).max(LIMITS.answerWithinSeconds).describe('T: answered within this many seconds counts'),
    serviceLevel: z.number().gt(0).lt(1).describe('share of arrivals to answer within T'),
    maxAbandonment: z.number().min(0).max(1).describe('largest share of arrivals that may give up (matters with a patience)'),
  })
  .strict();

const handleSeconds = z.number().gt(0).max(LIMITS.handleSeconds);
const roleName = z.string().min(1).max(64).regex(/^[a-z0-9-]+$/, 'lowercase letters, digits and dashes');
const series = z.array(z.number().min(0).max(LIMITS.arrivals)).min(1).max(LIMITS.intervals);

/** How a role's queue behaves; every field measured from recorded stats when left out there. */
export const roleParamsSchema = z
  .object({
    handleSeconds: handleSeconds.optional().describe('mean handle time, measured under `concurrency`'),
    concurrency: z.number().int().min(1).max(LIMITS.concurrency).optional().describe('chats one agent holds at once'),
    patienceSeconds: z.number().gt(0).max(LIMITS.patienceSeconds).nullable().optional().describe('mean patience (exponential); null = nobody gives up (Erlang C)'),
    target: targetSchema.partial().optional(),
  })
  .strict();
export type RoleParams = z.infer<typeof roleParamsSchema>;

export const roleForecastSchema = roleParamsSchema
  .extend({
    role: roleName,
    handleSeconds: handleSeconds.describe('mean handle time in seconds, measured under `concurrency`'),
    arrivals: series.optional().describe('buyers arriving in each interval'),
    arrivalsPerHour: series.optional().describe('the same as a rate per hour'),
  })
  .strict()
  .refine((r) => (r.arrivals === undefined) !== (r.arrivalsPerHour === undefined), { message: 'give exactly one of arrivals and arrivalsPerHour' });

export const forecastSchema = z
  .object({
    intervalMinutes: z.number().min(1).max(1_440).default(DEFAULT_INTERVAL_MINUTES),
    start: z.iso.datetime({ offset: true }).optional().describe('start of the first interval'),
    target: targetSchema.partial().prefault({}),
    roles: z.array(roleForecastSchema).min(1).max(LIMITS.roles),
  })
  .strict()
  .refine((f) => new Set(f.roles.map((r) => r.role)).size === f.roles.length, { message: 'each role at most once', path: ['roles'] });
export type ForecastDoc = z.input<typeof forecastSchema>;

/** A validated forecast document as the planner takes it; throws with the offending path. */
export function toForecast(doc: unknown, targetDefaults: Target = DEFAULT_TARGET): Forecast {
  const f = forecastSchema.parse(doc);
  const intervalSeconds = f.intervalMinutes * 60;
  return {
    intervalSeconds,
    ...(f.start ? { start: new Date(f.start).toISOString() } : {}),
    target: { ...targetDefaults, ...stripUndefined(f.target) },
    roles: f.roles.map(
      (r): RoleForecast => ({
        role: r.role,
        arrivals: r.arrivals ?? r.arrivalsPerHour!.map((h) => (h * intervalSeconds) / 3600),
        handleSeconds: r.handleSeconds,
        concurrency: r.concurrency ?? 1,
        patienceSeconds: r.patienceSeconds ?? undefined,
        ...(r.target ? { target: stripUndefined(r.target) } : {}),
      }),
    ),
  };
}

export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** "a=1,b=2" style key/value lists of the CLI, into a forecast role (values stay strings). */
export function parseRoleSpec(spec: string): { role: string; values: Record<string, string> } {
  const colon = spec.indexOf(':');
  const role = colon < 0 ? spec : spec.slice(0, colon);
  const values: Record<string, string> = {};
  if (colon >= 0) {
    for (const part of spec.slice(colon + 1).split(',')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      if (eq <= 0) throw new Error(`--role ${spec}: "${part}" is not key=value`);
      const key = part.slice(0, eq);
      if (key in values) throw new Error(`--role ${spec}: ${key} given twice`);
      values[key] = part.slice(eq + 1);
    }
  }
  return { role, values };
}
