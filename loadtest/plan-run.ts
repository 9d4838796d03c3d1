/**
 * `--plan plan.json`: the load test staffed as a staffing plan says (src/plan, `npm run plan
 * -- --out plan.json`), fed with the arrivals the plan was made for, and the service level it
 * measures set beside the one the plan predicted, per role.
 *
 * One interval of the plan is run in real time: each role gets its planned agents (single-role,
 * capacity = the plan's concurrency), buyers of that role arrive as a Poisson stream at the
 * planned rate, handle times are exponential with the planned mean (accept → close), and when
 * the plan has a patience every buyer of the role gives up after an exponential patience with
 * that mean — the assumptions of Erlang C / Erlang A, so what differs is the gateway.
 * Buyers arriving in the first `warmup` seconds (the queue filling from empty) are not counted.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { queueOutcome } from '../src/plan/erlang.ts';
import type { AgentSpec } from './types.ts';

export interface PlanRole {
  role: string;
  agents: number;
  concurrency: number;
  /** Arrivals per second. */
  arrivalRate: number;
  handleSeconds: number;
  patienceSeconds: number | null;
  answerWithinSeconds: number;
  predicted: { serviceLevel: number; abandonment: number; averageSpeedOfAnswerSeconds: number | null; occupancy: number };
}

export interface PlanRun {
  file: string;
  interval: number;
  roles: PlanRole[];
}

/** What each simulated buyer of a plan run is told. */
export interface PlanBuyer {
  role: string;
  patienceS: number | null;
  answerWithinS: number;
  /** Arrived after the warm-up: counted. */
  measured: boolean;
}

/** Outcomes of the counted buyers of one role, and the handle times drawn for its chats (all of them). */
export interface PlanTally {
  arrived: number;
  answered: number;
  answeredWithin: number;
  abandoned: number;
  waitSumMs: number;
  handled: number;
  handleSumMs: number;
}

export const newTally = (): PlanTally => ({ arrived: 0, answered: 0, answeredWithin: 0, abandoned: 0, waitSumMs: 0, handled: 0, handleSumMs: 0 });

export function addTallies(into: Record<string, PlanTally>, from: Record<string, PlanTally> | undefined): void {
  for (const [role, t] of Object.entries(from ?? {})) {
    const x = (into[role] ??= newTally());
    for (const k of Object.keys(t) as (keyof PlanTally)[]) x[k] += t[k];
  }
}

const planFile = z.object({
  tool: z.literal('peakdesk-plan'),
  intervalSeconds: z.number().positive(),
  roles: z
    .array(
      z.object({
        role: z.string().min(1),
        handleSeconds: z.number().positive(),
        concurrency: z.number().int().min(1).max(50),
        patienceSeconds: z.number().positive().nullable(),
        target: z.object({ answerWithinSeconds: z.number().min(0) }),
        intervals: z
          .array(
            z.object({
              arrivals: z.number().min(0),
              agents: z.number().int().min(0),
              serviceLevel: z.number(),
              abandonment: z.number(),
              averageSpeedOfAnswerSeconds: z.number().nullable(),
              occupancy: z.number(),
            }),
          )
          .min(1),
      }),
    )
    .min(1),
});

/** The plan file (npm run plan -- --out FILE, or the `plan` of POST /v1/admin/plan), interval `interval`. */
export function loadPlanRun(file: string, interval: number, knownRoles: string[]): PlanRun {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`--plan ${file}: ${(err as Error).message}`);
  }
  if (doc && typeof doc === 'object' && 'plan' in doc) doc = (doc as { plan: unknown }).plan;
  const parsed = planFile.safeParse(doc);
  if (!parsed.success) throw new Error(`--plan ${file}: not a staffing plan (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
  const p = parsed.data;
  const roles = p.roles.map((r): PlanRole => {
    if (!knownRoles.includes(r.role)) throw new Error(`--plan: role ${r.role} has no buyers in the load test's fixtures (${knownRoles.join(', ')})`);
    const i = r.intervals[interval];
    if (!i) throw new Error(`--plan-interval ${interval}: role ${r.role} has ${r.intervals.length} interval(s)`);
    return {
      role: r.role,
      agents: i.agents,
      concurrency: r.concurrency,
      arrivalRate: i.arrivals / p.intervalSeconds,
      handleSeconds: r.handleSeconds,
      patienceSeconds: r.patienceSeconds,
      answerWithinSeconds: r.target.answerWithinSeconds,
      predicted: { serviceLevel: i.serviceLevel, abandonment: i.abandonment, averageSpeedOfAnswerSeconds: i.averageSpeedOfAnswerSeconds, occupancy: i.occupancy },
    };
  });
  return { file, interval, roles };
}

export function planAgents(run: PlanRun): AgentSpec[] {
  return run.roles.flatMap((r) => Array.from({ length: r.agents }, (_, i) => ({ id: `agent-${r.role}-${i}`, roles: [r.role], capacity: r.concurrency, handleS: r.handleSeconds })));
}

/** Every role's Poisson arrivals over `durationS`, merged in time order. */
export function planArrivals(run: PlanRun, durationS: number, warmupS: number, rand: () => number): { times: number[]; buyers: PlanBuyer[] } {
  const all: { t: number; b: PlanBuyer }[] = [];
  for (const r of run.roles) {
    if (r.arrivalRate <= 0) continue;
    for (let t = -Math.log(1 - rand()) / r.arrivalRate; t < durationS; t += -Math.log(1 - rand()) / r.arrivalRate) {
      all.push({ t, b: { role: r.role, patienceS: r.patienceSeconds, answerWithinS: r.answerWithinSeconds, measured: t >= warmupS } });
    }
  }
  all.sort((x, y) => x.t - y.t);
  return { times: all.map((x) => x.t), buyers: all.map((x) => x.b) };
}

export interface PlanComparisonRow {
  role: string;
  agents: number;
  concurrency: number;
  arrivalsPerHour: number;
  counted: number;
  predicted: PlanRole['predicted'];
  measured: {
    serviceLevel: number | null;
    abandonment: number | null;
    averageSpeedOfAnswerSeconds: number | null;
    answered: number;
    /** The arrivals the Poisson stream actually brought in the counted window, and the handle times drawn. */
    arrivalsPerHour: number;
    handleSeconds: number | null;
  };
  /** The model again at the measured arrivals and handle time: what is left is the gateway's (and chance). */
  modelAtMeasured: { serviceLevel: number; abandonment: number; averageSpeedOfAnswerSeconds: number | null } | null;
}

export interface PlanComparison {
  file: string;
  interval: number;
  warmupS: number;
  rows: PlanComparisonRow[];
}

export function comparePlan(run: PlanRun, warmupS: number, countedS: number, tallies: Record<string, PlanTally>): PlanComparison {
  return {
    file: run.file,
    interval: run.interval,
    warmupS,
    rows: run.roles.map((r) => {
      const t = tallies[r.role] ?? newTally();
      const share = (n: number) => (t.arrived ? n / t.arrived : null);
      const rate = countedS > 0 ? t.arrived / countedS : 0;
      const handle = t.handled ? t.handleSumMs / t.handled / 1000 : null;
      const again =
        handle && rate > 0
          ? queueOutcome({ arrivalRate: rate, handleSeconds: handle, servers: r.agents * r.concurrency, patienceSeconds: r.patienceSeconds ?? undefined, answerWithinSeconds: r.answerWithinSeconds })
          : null;
      return {
        role: r.role,
        agents: r.agents,
        concurrency: r.concurrency,
        arrivalsPerHour: r.arrivalRate * 3600,
        counted: t.arrived,
        predicted: r.predicted,
        measured: {
          serviceLevel: share(t.answeredWithin),
          abandonment: share(t.abandoned),
          averageSpeedOfAnswerSeconds: t.answered ? t.waitSumMs / t.answered / 1000 : null,
          answered: t.answered,
          arrivalsPerHour: rate * 3600,
          handleSeconds: handle,
        },
        modelAtMeasured: again && {
          serviceLevel: again.serviceLevel,
          abandonment: again.abandonment,
          averageSpeedOfAnswerSeconds: Number.isFinite(again.averageSpeedOfAnswerSeconds) ? again.averageSpeedOfAnswerSeconds : null,
        },
      };
    }),
  };
}

export function planTable(c: PlanComparison): string {
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
  const s = (x: number | null) => (x === null ? 'n/a' : x.toFixed(2));
  const head = ['role', 'agents×conc', 'arrivals/h plan', 'run', 'handle s run', 'counted', 'SL plan', 'SL model@run', 'SL measured', 'abandon plan', 'model@run', 'measured', 'ASA s plan', 'measured'];
  const rows = c.rows.map((r) => [
    r.role,
    `${r.agents}×${r.concurrency}`,
    r.arrivalsPerHour.toFixed(0),
    r.measured.arrivalsPerHour.toFixed(0),
    s(r.measured.handleSeconds),
    String(r.counted),
    pct(r.predicted.serviceLevel),
    pct(r.modelAtMeasured?.serviceLevel ?? null),
    pct(r.measured.serviceLevel),
    pct(r.predicted.abandonment),
    pct(r.modelAtMeasured?.abandonment ?? null),
    pct(r.measured.abandonment),
    s(r.predicted.averageSpeedOfAnswerSeconds),
    s(r.measured.averageSpeedOfAnswerSeconds),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  ');
  return [
    `staffing plan ${c.file}, interval ${c.interval} (buyers of the first ${c.warmupS.toFixed(0)} s not counted; model@run = the model at the arrivals and handle times the run actually had):`,
    line(head),
    ...rows.map(line),
  ].join('\n');
}
