/**
 * The staffing plan: for every role and interval, the fewest agents that meet the target,
 * and what that many agents are expected to give (service level, speed of answer,
 * abandonment, occupancy).
 *
 * Each interval is solved as its own steady state (the "stationary independent period by
 * period" practice of workforce management): fine while an interval is long against the
 * handle time, optimistic where the load jumps within one (the first minutes after midnight).
 *
 * Concurrency: an agent who holds up to c chats at once is c servers, and the handle time is
 * the time a chat holds one of them as measured while agents work at that concurrency (so
 * the slowdown of juggling is in the handle time, not in a separate factor). The plan's
 * occupancy is then the share of chat slots in use.
 */
import { logErlangB, queueOutcome, type QueueOutcome } from './erlang.ts';

export interface Target {
  /** T: an answer within this many seconds counts as in service level. */
  answerWithinSeconds: number;
  /** Share of arrivals to answer within T (0..1, below 1). */
  serviceLevel: number;
  /** Largest share of arrivals that may give up (0..1); 1 = no limit. Needs a patience to matter. */
  maxAbandonment: number;
}

export interface RoleForecast {
  role: string;
  /** Arrivals in each interval (a number of buyers, fractional for an expectation). */
  arrivals: number[];
  /** Mean handle time of a chat in seconds, measured under `concurrency`. */
  handleSeconds: number;
  /** Chats one agent of this role holds at once. */
  concurrency: number;
  /** Mean patience in seconds; absent = nobody gives up (Erlang C). */
  patienceSeconds?: number | undefined;
  /** Per-role target; the plan's target where absent. */
  target?: Partial<Target> | undefined;
}

export interface Forecast {
  intervalSeconds: number;
  /** Start of the first interval (ISO), if the forecast is for a real day. */
  start?: string | undefined;
  target: Target;
  roles: RoleForecast[];
}

/** What a staffing gives, in an interval, at a role's peak, or over the whole plan. */
export interface Figures {
  agents: number;
  serviceLevel: number;
  /** null when the queue would grow without bound (cannot happen for a plan that met its target). */
  averageSpeedOfAnswerSeconds: number | null;
  abandonment: number;
  occupancy: number;
}

export interface IntervalPlan extends Figures {
  index: number;
  start?: string;
  arrivals: number;
  arrivalsPerHour: number;
  servers: number;
  intensity: number;
  probabilityOfWaiting: number;
  /** False when no staffing up to MAX_AGENTS meets the target. */
  met: boolean;
}

/** The figures are those of the interval that needs the most agents. */
export interface RolePlan extends Figures {
  role: string;
  model: QueueOutcome['model'];
  handleSeconds: number;
  concurrency: number;
  patienceSeconds: number | null;
  target: Target;
  intervals: IntervalPlan[];
}

/** `agents` is the sum of every role's peak; the others are arrival-weighted (occupancy: by servers). */
export interface Plan extends Figures {
  tool: 'peakdesk-plan';
  generatedAt: string;
  intervalSeconds: number;
  start?: string;
  target: Target;
  roles: RolePlan[];
}

/** Staffing the search gives up at (a shop-sized bound, not a numerical one). */
export const MAX_AGENTS = 100_000;

export interface Staffing {
  agents: number;
  outcome: QueueOutcome;
  met: boolean;
}

function meets(o: QueueOutcome, t: Target): boolean {
  return o.serviceLevel >= t.serviceLevel && o.abandonment <= t.maxAbandonment;
}

/**
 * The fewest agents meeting `target` for `arrivalRate` per second. Both measures only get
 * better with more servers, so the search gallops up from a bound below the answer and then
 * bisects, carrying the Erlang B recursion on from the best staffing known to fall short.
 */
export function solveAgents(
  q: { arrivalRate: number; handleSeconds: number; concurrency: number; patienceSeconds?: number | undefined },
  target: Target,
): Staffing {
  const c = q.concurrency;
  const outcomeAt = (agents: number, logB?: number) =>
    queueOutcome({ arrivalRate: q.arrivalRate, handleSeconds: q.handleSeconds, servers: agents * c, patienceSeconds: q.patienceSeconds, answerWithinSeconds: target.answerWithinSeconds }, logB);
  const a = q.arrivalRate * q.handleSeconds;
  if (a === 0) return { agents: 0, outcome: outcomeAt(0), met: true };
  // Fewer servers than the load they must carry (less what may abandon) can never do.
  const impatient = q.patienceSeconds !== undefined && q.patienceSeconds !== Infinity;
  const floorServers = impatient ? a * (1 - Math.min(1, target.maxAbandonment)) : a;
  let lo = Math.max(1, Math.floor(floorServers / c));
  if (lo >= MAX_AGENTS) return { agents: MAX_AGENTS, outcome: outcomeAt(MAX_AGENTS), met: false };
  // ln B at the highest staffing known to fall short, so each candidate continues from there.
  let loLogB = logErlangB(lo * c, a);
  const tryAt = (agents: number) => {
    const logB = logErlangB(agents * c, a, lo * c, loLogB);
    return { logB, outcome: outcomeAt(agents, logB) };
  };
  const first = tryAt(lo);
  if (meets(first.outcome, target)) return { agents: lo, outcome: first.outcome, met: true };
  // Gallop up until the target is met, then halve the gap: O(log) evaluations of the model.
  let hi = 0;
  let best = first.outcome;
  for (let step = 1; ; step *= 2) {
    const cand = Math.min(MAX_AGENTS, lo + step);
    const t = tryAt(cand);
    if (meets(t.outcome, target)) {
      hi = cand;
      best = t.outcome;
      break;
    }
    if (cand >= MAX_AGENTS) return { agents: MAX_AGENTS, outcome: t.outcome, met: false };
    lo = cand;
    loLogB = t.logB;
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const t = tryAt(mid);
    if (meets(t.outcome, target)) {
      hi = mid;
      best = t.outcome;
    } else {
      lo = mid;
      loLogB = t.logB;
    }
  }
  return { agents: hi, outcome: best, met: true };
}

const finite = (x: number) => (Number.isFinite(x) ? x : null);

export function targetOf(plan: Target, role?: Partial<Target>): Target {
  return { ...plan, ...Object.fromEntries(Object.entries(role ?? {}).filter(([, v]) => v !== undefined)) };
}

export function makePlan(f: Forecast, now = new Date()): Plan {
  const roles: RolePlan[] = f.roles.map((r) => {
    const target = targetOf(f.target, r.target);
    const intervals = r.arrivals.map((arrivals, index): IntervalPlan => {
      const s = solveAgents({ arrivalRate: arrivals / f.intervalSeconds, handleSeconds: r.handleSeconds, concurrency: r.concurrency, patienceSeconds: r.patienceSeconds }, target);
      return {
        index,
        ...(f.start ? { start: new Date(Date.parse(f.start) + index * f.intervalSeconds * 1000).toISOString() } : {}),
        arrivals,
        arrivalsPerHour: (arrivals * 3600) / f.intervalSeconds,
        agents: s.agents,
        servers: s.agents * r.concurrency,
        intensity: s.outcome.intensity,
        serviceLevel: s.outcome.serviceLevel,
        averageSpeedOfAnswerSeconds: finite(s.outcome.averageSpeedOfAnswerSeconds),
        abandonment: s.outcome.abandonment,
        occupancy: s.outcome.occupancy,
        probabilityOfWaiting: s.outcome.probabilityOfWaiting,
        met: s.met,
      };
    });
    const peak = intervals.reduce((best, i) => (i.agents > best.agents ? i : best), intervals[0]!);
    return {
      role: r.role,
      model: r.patienceSeconds === undefined ? 'erlang-c' : 'erlang-a',
      handleSeconds: r.handleSeconds,
      concurrency: r.concurrency,
      patienceSeconds: r.patienceSeconds ?? null,
      target,
      agents: peak.agents,
      serviceLevel: peak.serviceLevel,
      averageSpeedOfAnswerSeconds: peak.averageSpeedOfAnswerSeconds,
      abandonment: peak.abandonment,
      occupancy: peak.occupancy,
      intervals,
    };
  });
  const all = roles.flatMap((r) => r.intervals.map((i) => ({ i, r })));
  const weight = all.reduce((s, { i }) => s + i.arrivals, 0);
  const avg = (pick: (i: IntervalPlan) => number | null) => {
    if (weight === 0) return all.length ? (pick(all[0]!.i) ?? null) : null;
    let sum = 0;
    for (const { i } of all) {
      const v = pick(i);
      if (v === null) return null;
      sum += v * i.arrivals;
    }
    return sum / weight;
  };
  // Occupancy weighs by servers (slot time), the others by arrivals.
  const slots = all.reduce((s, { i }) => s + i.servers, 0);
  return {
    tool: 'peakdesk-plan',
    generatedAt: now.toISOString(),
    intervalSeconds: f.intervalSeconds,
    ...(f.start ? { start: f.start } : {}),
    target: f.target,
    agents: roles.reduce((s, r) => s + r.agents, 0),
    serviceLevel: avg((i) => i.serviceLevel) ?? 1,
    averageSpeedOfAnswerSeconds: avg((i) => i.averageSpeedOfAnswerSeconds),
    abandonment: avg((i) => i.abandonment) ?? 0,
    occupancy: slots ? all.reduce((s, { i }) => s + i.occupancy * i.servers, 0) / slots : 0,
    roles,
  };
}
