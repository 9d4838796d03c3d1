/**
 * The queueing model of the staffing plan (src/plan/erlang.ts, planner.ts) against published
 * Erlang C figures, an exact big-integer evaluation of the textbook formula, a simulation of
 * the Erlang A queue, its limits, and properties that must hold for any input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { erlangAOutcome, erlangB, erlangC, erlangCOutcome, queueOutcome } from '../src/plan/erlang.ts';
import { MAX_AGENTS, makePlan, solveAgents, type Target } from '../src/plan/planner.ts';
import { rng } from '../loadtest/profile.ts';

/**
 * The textbook formula, exactly: C = (Aⁿ/n! · n/(n−A)) / (Σ_{k<n} Aᵏ/k! + Aⁿ/n! · n/(n−A)),
 * with A = num/den, in BigInt fractions (no floating point until the final division).
 */
function exactErlangC(n: number, num: bigint, den: bigint): number {
  // Everything over the common denominator n!·denⁿ·(n·den − num): term k is Aᵏ/k!.
  let fact = 1n;
  for (let i = 2n; i <= BigInt(n); i++) fact *= i;
  const N = BigInt(n);
  let sum = 0n; // Σ_{k<n} Aᵏ/k! · n!·denⁿ
  let kFact = 1n;
  for (let k = 0; k < n; k++) {
    if (k > 0) kFact *= BigInt(k);
    sum += (num ** BigInt(k) * den ** BigInt(n - k) * fact) / kFact; // exact: k! divides n!
  }
  const gap = N * den - num; // (n − A)·den
  const top = num ** N * N * den; // Aⁿ/n! · n/(n−A), times n!·denⁿ·gap
  const all = sum * gap + top;
  // Scale to keep 15+ significant digits in the final Number division.
  const shift = BigInt(Math.max(0, all.toString(2).length - 60));
  return Number(top >> shift) / Number(all >> shift);
}

describe('Erlang C', () => {
  it('matches the worked example of Call Centre Helper ("Erlang C Formula – Made Simple With an Easy Worked Example")', () => {
    // 100 calls per 30 minutes, AHT 180 s: 10 Erlangs; target 80 % answered in 20 s.
    // The article's figures: with 11 agents P(wait) = 68.21 % and service level 39.0 %;
    // 14 agents are the first to reach 80 %, at 71.4 % occupancy.
    const at = (n: number) => erlangCOutcome({ arrivalRate: 100 / 1800, handleSeconds: 180, servers: n, answerWithinSeconds: 20 });
    expect(at(11).probabilityOfWaiting).toBeCloseTo(0.6821, 4);
    expect(at(11).serviceLevel).toBeCloseTo(0.39, 3);
    expect(at(13).serviceLevel).toBeLessThan(0.8);
    expect(at(14).serviceLevel).toBeGreaterThanOrEqual(0.8);
    expect(at(14).occupancy).toBeCloseTo(0.714, 3);
    const s = solveAgents({ arrivalRate: 100 / 1800, handleSeconds: 180, concurrency: 1 }, { answerWithinSeconds: 20, serviceLevel: 0.8, maxAbandonment: 1 });
    expect(s.agents).toBe(14);
  });

  it('matches the worked example of Mitan ("The Erlang-C formula": 360 calls per half hour, 4 minutes, 55 agents, 15 s)', () => {
    // Published there: traffic intensity 48 Erlangs, occupancy 0.873, probability of waiting
    // 0.2387, average speed of answer 8.18 s, service level 84.6 %.
    const o = erlangCOutcome({ arrivalRate: 360 / 1800, handleSeconds: 240, servers: 55, answerWithinSeconds: 15 });
    expect(o.intensity).toBe(48);
    expect(o.occupancy).toBeCloseTo(0.873, 3);
    expect(o.probabilityOfWaiting).toBeCloseTo(0.2387, 4);
    expect(o.averageSpeedOfAnswerSeconds).toBeCloseTo(8.18, 2);
    expect(o.serviceLevel).toBeCloseTo(0.846, 3);
  });

  it('equals the textbook formula evaluated exactly in big integers, up to hundreds of servers', () => {
    const cases: [number, bigint, bigint][] = [
      [1, 1n, 2n],
      [2, 3n, 2n],
      [11, 10n, 1n],
      [29, 24n, 1n],
      [40, 3_917n, 100n],
      [120, 11_000n, 100n],
      [300, 28_150n, 100n],
    ];
    for (const [n, num, den] of cases) {
      const exact = exactErlangC(n, num, den);
      expect(Math.abs(erlangC(n, Number(num) / Number(den)) - exact) / exact, `n=${n} A=${num}/${den}`).toBeLessThan(1e-11);
    }
  });

  it('stays finite and sensible for thousands of servers (no factorial overflow)', () => {
    const c = erlangC(5_000, 4_900);
    expect(c).toBeGreaterThan(0);
    expect(c).toBeLessThan(1);
    // Halfin–Whitt: at n = A + β√A the probability of waiting tends to a constant; β = 1.43 gives ≈ 0.10.
    expect(c).toBeGreaterThan(0.08);
    expect(c).toBeLessThan(0.12);
    expect(erlangB(20_000, 100)).toBe(0);
    expect(erlangC(10, 10)).toBe(1);
    expect(erlangCOutcome({ arrivalRate: 1, handleSeconds: 10, servers: 10, answerWithinSeconds: 5 })).toMatchObject({ serviceLevel: 0, averageSpeedOfAnswerSeconds: Infinity, occupancy: 1 });
  });

  it('gives up at a shop-sized bound instead of searching without end', () => {
    const s = solveAgents({ arrivalRate: 1e5, handleSeconds: 86_400, concurrency: 1 }, { answerWithinSeconds: 20, serviceLevel: 0.8, maxAbandonment: 1 });
    expect(s).toMatchObject({ agents: MAX_AGENTS, met: false });
  });

  it('staffs the issue example: 360 per hour, 240 s, 80 % within 20 s', () => {
    const s = solveAgents({ arrivalRate: 0.1, handleSeconds: 240, concurrency: 1 }, { answerWithinSeconds: 20, serviceLevel: 0.8, maxAbandonment: 1 });
    expect(s.agents).toBe(29);
    expect(s.outcome.serviceLevel).toBeCloseTo(0.8403, 4);
    expect(s.outcome.averageSpeedOfAnswerSeconds).toBeCloseTo(11.63, 2);
    expect(s.outcome.occupancy).toBeCloseTo(24 / 29, 10);
  });
});

/**
 * M/M/n+M by discrete-event simulation, first come first served: each arrival gets a patience
 * and is answered by the first server free before it runs out.
 */
function simulate(lambda: number, h: number, n: number, patience: number, T: number, arrivals: number, seed: number) {
  const r = rng(seed);
  const exp = (mean: number) => -Math.log(1 - r()) * mean;
  const free = new Array<number>(n).fill(0); // when each server frees up
  // FCFS with abandonment: an arrival is answered at the earliest time a server is free
  // after all earlier answered arrivals started, unless its patience ends first.
  let t = 0;
  let within = 0;
  let abandoned = 0;
  let waitAnswered = 0;
  let answered = 0;
  for (let i = 0; i < arrivals; i++) {
    t += exp(1 / lambda);
    let k = 0;
    for (let j = 1; j < n; j++) if (free[j]! < free[k]!) k = j;
    const start = Math.max(t, free[k]!);
    const wait = start - t;
    if (wait > exp(patience)) {
      abandoned++;
      continue;
    }
    free[k] = start + exp(h);
    answered++;
    waitAnswered += wait;
    if (wait <= T) within++;
  }
  return { serviceLevel: within / arrivals, abandonment: abandoned / arrivals, asa: waitAnswered / answered };
}

describe('Erlang A', () => {
  const base = { arrivalRate: 0.1, handleSeconds: 240, servers: 27, answerWithinSeconds: 20 };

  it('agrees with a simulation of the queue with impatient buyers', () => {
    for (const [lambda, h, n, patience, T] of [
      [1, 4, 5, 3, 1],
      [2, 10, 18, 30, 5],
    ] as const) {
      // Long runs: a queue near saturation wanders slowly, so short ones are noisy.
      const sim = simulate(lambda, h, n, patience, T, 2_000_000, 7);
      const o = erlangAOutcome({ arrivalRate: lambda, handleSeconds: h, servers: n, patienceSeconds: patience, answerWithinSeconds: T });
      expect(Math.abs(o.serviceLevel - sim.serviceLevel), `SL n=${n}`).toBeLessThan(0.006);
      expect(Math.abs(o.abandonment - sim.abandonment), `abandonment n=${n}`).toBeLessThan(0.004);
      expect(Math.abs(o.averageSpeedOfAnswerSeconds - sim.asa) / sim.asa, `ASA n=${n}`).toBeLessThan(0.03);
    }
  });

  it('tends to Erlang C as patience grows without bound', () => {
    const c = erlangCOutcome(base);
    const a = erlangAOutcome({ ...base, patienceSeconds: 1e9 });
    expect(a.serviceLevel).toBeCloseTo(c.serviceLevel, 6);
    expect(a.averageSpeedOfAnswerSeconds).toBeCloseTo(c.averageSpeedOfAnswerSeconds, 3);
    expect(a.probabilityOfWaiting).toBeCloseTo(c.probabilityOfWaiting, 6);
    expect(a.abandonment).toBeLessThan(1e-6);
    // Without a patience the planner uses Erlang C itself.
    expect(queueOutcome(base).model).toBe('erlang-c');
  });

  it('tends to Erlang B (nobody waits) as patience shrinks to nothing', () => {
    const b = erlangB(base.servers, 24);
    for (const patienceSeconds of [1e-7, 0]) {
      const a = erlangAOutcome({ ...base, patienceSeconds });
      expect(a.abandonment).toBeCloseTo(b, 6);
      expect(a.serviceLevel).toBeCloseTo(1 - b, 6);
      expect(a.averageSpeedOfAnswerSeconds).toBeLessThan(1e-6);
    }
  });

  it('stays stable for hundreds of servers and an overloaded queue', () => {
    const big = erlangAOutcome({ arrivalRate: 5, handleSeconds: 240, servers: 1_250, patienceSeconds: 120, answerWithinSeconds: 20 });
    expect(big.serviceLevel).toBeGreaterThan(0.99);
    expect(big.abandonment).toBeLessThan(0.01);
    // Half the servers the load needs: about half the buyers must give up.
    const over = erlangAOutcome({ arrivalRate: 5, handleSeconds: 240, servers: 600, patienceSeconds: 120, answerWithinSeconds: 20 });
    expect(over.abandonment).toBeGreaterThan(0.49);
    expect(over.abandonment).toBeLessThan(0.52);
    expect(over.occupancy).toBeLessThanOrEqual(1);
    expect(Number.isFinite(over.averageSpeedOfAnswerSeconds)).toBe(true);
  });
});

describe('properties', () => {
  const load = fc.record({
    arrivalRate: fc.double({ min: 0.001, max: 20, noNaN: true }),
    handleSeconds: fc.double({ min: 1, max: 900, noNaN: true }),
    answerWithinSeconds: fc.double({ min: 0, max: 120, noNaN: true }),
    patienceSeconds: fc.option(fc.double({ min: 1, max: 900, noNaN: true }), { nil: undefined }),
  });

  it('one more agent never lowers the service level nor raises abandonment or the wait', () => {
    fc.assert(
      fc.property(load, fc.integer({ min: 1, max: 400 }), (q, n) => {
        const a = queueOutcome({ ...q, servers: n });
        const b = queueOutcome({ ...q, servers: n + 1 });
        return (
          b.serviceLevel >= a.serviceLevel - 1e-12 &&
          b.abandonment <= a.abandonment + 1e-12 &&
          b.averageSpeedOfAnswerSeconds <= a.averageSpeedOfAnswerSeconds * (1 + 1e-9) + 1e-12 &&
          [a, b].every((o) => o.serviceLevel >= 0 && o.serviceLevel <= 1 && o.abandonment >= 0 && o.abandonment <= 1 && o.occupancy >= 0 && o.occupancy <= 1)
        );
      }),
      { numRuns: 300 },
    );
  });

  it('more arrivals never need fewer agents, and the staffing found is the least that meets the target', () => {
    const target = fc.record({
      answerWithinSeconds: fc.double({ min: 0, max: 120, noNaN: true }),
      serviceLevel: fc.double({ min: 0.5, max: 0.95, noNaN: true }),
      maxAbandonment: fc.double({ min: 0.01, max: 1, noNaN: true }),
    });
    fc.assert(
      fc.property(load, target, fc.double({ min: 1, max: 3, noNaN: true }), fc.integer({ min: 1, max: 5 }), (q, t: Target, growth, concurrency) => {
        const input = { arrivalRate: q.arrivalRate, handleSeconds: q.handleSeconds, concurrency, patienceSeconds: q.patienceSeconds };
        const s = solveAgents(input, t);
        const more = solveAgents({ ...input, arrivalRate: q.arrivalRate * growth }, t);
        if (!s.met || more.agents < s.agents) return false;
        if (s.agents <= 1) return true;
        const fewer = queueOutcome({ ...q, answerWithinSeconds: t.answerWithinSeconds, servers: (s.agents - 1) * concurrency });
        return fewer.serviceLevel < t.serviceLevel || fewer.abandonment > t.maxAbandonment;
      }),
      { numRuns: 200 },
    );
  });
});

describe('plan', () => {
  it('counts an agent of concurrency c as c servers, per role and interval, with totals', () => {
    const plan = makePlan({
      intervalSeconds: 900,
      start: '2026-11-10T16:00:00.000Z',
      target: { answerWithinSeconds: 20, serviceLevel: 0.8, maxAbandonment: 0.05 },
      roles: [
        { role: 'pre-sale', arrivals: [90, 0, 270], handleSeconds: 240, concurrency: 1 },
        { role: 'after-sale', arrivals: [90], handleSeconds: 720, concurrency: 3, patienceSeconds: 120 },
      ],
    });
    const pre = plan.roles[0]!;
    expect(pre.intervals.map((i) => i.agents)).toEqual([29, 0, solveAgents({ arrivalRate: 0.3, handleSeconds: 240, concurrency: 1 }, plan.target).agents]);
    expect(pre.intervals[1]).toMatchObject({ serviceLevel: 1, occupancy: 0, averageSpeedOfAnswerSeconds: 0 });
    expect(pre.intervals[2]!.start).toBe('2026-11-10T16:30:00.000Z');
    expect(pre.agents).toBe(pre.intervals[2]!.agents);
    const after = plan.roles[1]!;
    // 72 Erlangs on 3 slots per agent: about a third of the agents one slot each would need.
    const single = solveAgents({ arrivalRate: 0.1, handleSeconds: 720, concurrency: 1, patienceSeconds: 120 }, plan.target).agents;
    expect(after.intervals[0]!.servers).toBe(after.agents * 3);
    expect(after.agents).toBe(Math.ceil(after.intervals[0]!.servers / 3));
    expect(after.agents).toBeGreaterThanOrEqual(Math.floor(single / 3));
    expect(after.agents).toBeLessThanOrEqual(Math.ceil(single / 3));
    expect(after.model).toBe('erlang-a');
    expect(plan.agents).toBe(pre.agents + after.agents);
    expect(plan.serviceLevel).toBeGreaterThanOrEqual(0.8);
  });
});
