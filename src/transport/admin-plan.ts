import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { PlanService } from '../domain/plan-service.ts';
import { statsCsv } from '../domain/plan-service.ts';
import { LIMITS, roleParamsSchema, targetSchema } from '../plan/forecast.ts';
import { StatsError } from '../plan/from-stats.ts';
import { PLAN_COUNTERS } from '../store/types.ts';
import { errors } from './admin-schemas.ts';
import { sendProblem } from './problem.ts';
import { shopFor } from './admin-scope.ts';

/** Buckets one request may read (a month of 15-minute buckets is ~3000). */
const MAX_BUCKETS = 10_000;
const DAY_MS = 24 * 3_600_000;

const instant = z.union([z.number().int().min(0), z.iso.datetime({ offset: true })]);
const instantParam = z.string().max(40).describe('ISO date-time with offset, or epoch milliseconds');
const roleName = z.string().min(1).max(64);

const statsQuery = z.object({
  shop: z.string().min(1).max(64).optional().describe("shop id; defaults to the token's shop"),
  from: instantParam.optional().describe('window start (default: 24 hours before `to`)'),
  to: instantParam.optional().describe('window end, exclusive (default: now)'),
  format: z.enum(['json', 'csv']).default('json'),
});

const planBody = z
  .object({
    from: instant.optional().describe('start of the recorded event to plan from (default: 24 hours before `to`)'),
    to: instant.optional().describe('its end, exclusive (default: now)'),
    growth: z.number().gt(0).max(1_000).default(1).describe('arrivals of the planned event = recorded arrivals × growth'),
    start: z.iso.datetime({ offset: true }).optional().describe('start of the planned event, for the intervals of the answer'),
    target: targetSchema.partial().optional().describe('defaults: plan.answerWithinSeconds, plan.serviceLevel, plan.maxAbandonment'),
    roles: z.array(roleName).min(1).max(LIMITS.roles).optional().describe('roles to plan (default: every role with recorded arrivals)'),
    overrides: z.record(roleName, roleParamsSchema).optional().describe('per role: handleSeconds, concurrency, patienceSeconds (null = Erlang C), target'),
  })
  .strict()
  .prefault({});

const statsRow = z.object({ role: z.string(), bucketStart: z.string(), ...Object.fromEntries(PLAN_COUNTERS.map((c) => [c, z.number()])) });

function toMs(v: string | number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  const t = /^\d{1,16}$/.test(v) ? Number(v) : Date.parse(v);
  return Number.isFinite(t) ? t : NaN;
}

/**
 * The staffing plan's admin endpoints: the recorded stats (JSON or CSV) and a plan computed
 * from them plus overrides. Registered inside the admin scope (its auth and error handling).
 */
export function registerPlanRoutes(
  admin: FastifyInstance,
  deps: { planning: PlanService },
): void {
  const r = admin.withTypeProvider<ZodTypeProvider>();
  const shopOf = (req: FastifyRequest, q: { shop?: string | undefined }) => shopFor(req.admin!, q.shop);
  const window = (reply: FastifyReply, fromIn: string | number | undefined, toIn: string | number | undefined, max: number) => {
    const to = toMs(toIn) ?? deps.planning.now();
    const from = toMs(fromIn) ?? to - DAY_MS;
    const bad = (m: string) => (sendProblem(reply, 400, 'bad_request', m), null);
    if (!Number.isFinite(from) || !Number.isFinite(to)) return bad('from, to: expected an ISO date-time with offset or epoch milliseconds');
    if (to <= from) return bad('to must be after from');
    if ((to - from) / deps.planning.bucketMs > max) return bad(`at most ${max} buckets of plan.bucketMs (${deps.planning.bucketMs} ms) per request`);
    return { from, to };
  };

  r.get('/plan/stats', {
    schema: {
      summary: 'Recorded staffing-plan stats per role and bucket (arrivals, abandonments, answers, handle times, concurrency)',
      tags: ['plan'],
      querystring: statsQuery,
      response: { 200: z.object({ shop: z.string(), bucketMs: z.number(), from: z.string(), to: z.string(), rows: z.array(statsRow) }).or(z.string()), ...errors },
    },
    handler: async (req, reply) => {
      const w = window(reply, req.query.from, req.query.to, MAX_BUCKETS);
      if (!w) return reply;
      const shop = shopOf(req, req.query);
      const rows = await deps.planning.stats(shop, w.from, w.to);
      const bucketMs = deps.planning.bucketMs;
      if (req.query.format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="plan-stats-${encodeURIComponent(shop)}.csv"`)
          .send(statsCsv(shop, bucketMs, rows));
      }
      return {
        shop,
        bucketMs,
        from: new Date(w.from).toISOString(),
        to: new Date(w.to).toISOString(),
        rows: rows.map((b) => ({ role: b.role, bucketStart: new Date(b.bucketStart).toISOString(), ...b.counts })),
      };
    },
  });

  r.post('/plan', {
    schema: {
      summary: 'A staffing plan (agents per role and interval) from the recorded stats of an event, × growth, with overrides',
      description:
        'Erlang C, or Erlang A where a patience is known (measured or given). Every interval of the recorded window (plan.bucketMs long) is planned as its own steady state. ' +
        'An agent of concurrency c counts as c servers with the handle time measured at that concurrency.',
      tags: ['plan'],
      querystring: z.object({ shop: z.string().min(1).max(64).optional() }),
      body: planBody,
      response: {
        200: z.object({
          plan: z.record(z.string(), z.unknown()).describe('per role and interval: agents, serviceLevel, averageSpeedOfAnswerSeconds, abandonment, occupancy'),
          measured: z.array(z.record(z.string(), z.unknown())).describe('what was measured per role: counts, handleSeconds, capacity, concurrency, patienceSeconds, averageWaitSeconds, abandonment'),
          skipped: z.array(z.object({ role: z.string(), reason: z.string() })).describe('roles with arrivals that could not be planned'),
        }),
        ...errors,
      },
    },
    handler: async (req, reply) => {
      // Every bucket of the window is an interval to solve: fewer than the export may read.
      const w = window(reply, req.body.from, req.body.to, LIMITS.intervals);
      if (!w) return reply;
      try {
        const { plan, measured, skipped } = await deps.planning.plan(shopOf(req, req.query), { ...req.body, ...w });
        return { plan: plan as unknown as Record<string, unknown>, measured: measured as unknown as Record<string, unknown>[], skipped };
      } catch (err) {
        if (!(err instanceof StatsError)) throw err;
        sendProblem(reply, 400, 'bad_request', err.message);
        return reply;
      }
    },
  });
}
