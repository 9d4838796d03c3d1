/**
 * The load test's --plan pieces (loadtest/plan-run.ts): reading a plan, staffing it, the
 * arrivals it runs, and the comparison it reports.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { comparePlan, loadPlanRun, planAgents, planArrivals, planTable } from '../loadtest/plan-run.ts';
import { rng } from '../loadtest/profile.ts';
import { makePlan } from '../src/plan/planner.ts';

const dir = mkdtempSync(join(tmpdir(), 'peakdesk-lt-plan-'));
const plan = makePlan({
  intervalSeconds: 900,
  target: { answerWithinSeconds: 3, serviceLevel: 0.8, maxAbandonment: 0.1 },
  roles: [
    { role: 'pre-sale', arrivals: [1800, 900], handleSeconds: 12, concurrency: 1 },
    { role: 'after-sale', arrivals: [900], handleSeconds: 20, concurrency: 2, patienceSeconds: 15 },
  ],
});
const file = join(dir, 'plan.json');
writeFileSync(file, JSON.stringify(plan));

describe('load test --plan', () => {
  it('staffs each role with single-role agents of the plan concurrency and handle time', () => {
    const run = loadPlanRun(file, 0, ['pre-sale', 'after-sale', 'bargaining']);
    const agents = planAgents(run);
    const pre = agents.filter((a) => a.roles.join() === 'pre-sale');
    const after = agents.filter((a) => a.roles.join() === 'after-sale');
    expect(pre).toHaveLength(plan.roles[0]!.intervals[0]!.agents);
    expect(after).toHaveLength(plan.roles[1]!.agents);
    expect(after.every((a) => a.capacity === 2 && a.handleS === 20)).toBe(true);
    expect(new Set(agents.map((a) => a.id)).size).toBe(agents.length);
    // The admin API's answer ({ plan, measured }) works as well.
    writeFileSync(join(dir, 'answer.json'), JSON.stringify({ plan, measured: [] }));
    expect(loadPlanRun(join(dir, 'answer.json'), 0, ['pre-sale', 'after-sale']).roles[0]!.arrivalRate).toBe(2);
  });

  it('refuses a file that is not a plan, a missing interval and a role the fixtures lack', () => {
    writeFileSync(join(dir, 'bad.json'), '{"tool":"something"}');
    expect(() => loadPlanRun(join(dir, 'bad.json'), 0, ['pre-sale'])).toThrow(/not a staffing plan/);
    expect(() => loadPlanRun(file, 5, ['pre-sale', 'after-sale'])).toThrow(/--plan-interval 5/);
    expect(() => loadPlanRun(file, 0, ['pre-sale'])).toThrow(/after-sale has no buyers/);
  });

  it('runs Poisson arrivals at each role rate, counting only those after the warm-up', () => {
    const run = loadPlanRun(file, 0, ['pre-sale', 'after-sale']);
    const { times, buyers } = planArrivals(run, 2_000, 100, rng(5));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const count = (role: string) => buyers.filter((b) => b.role === role).length;
    // 2/s and 1/s over 2000 s: within 4 standard deviations.
    expect(Math.abs(count('pre-sale') - 4_000)).toBeLessThan(4 * Math.sqrt(4_000));
    expect(Math.abs(count('after-sale') - 2_000)).toBeLessThan(4 * Math.sqrt(2_000));
    expect(buyers.every((b, i) => b.measured === times[i]! >= 100)).toBe(true);
    expect(buyers.find((b) => b.role === 'after-sale')).toMatchObject({ patienceS: 15, answerWithinS: 3 });
    expect(buyers.find((b) => b.role === 'pre-sale')?.patienceS).toBeNull();
  });

  it('sets measured beside predicted, and the model again at the arrivals the run had', () => {
    const run = loadPlanRun(file, 0, ['pre-sale', 'after-sale']);
    const c = comparePlan(run, 30, 90, {
      'pre-sale': { arrived: 180, answered: 180, answeredWithin: 162, abandoned: 0, waitSumMs: 90_000, handled: 200, handleSumMs: 2_400_000 },
    });
    const pre = c.rows[0]!;
    expect(pre.measured).toMatchObject({ serviceLevel: 0.9, abandonment: 0, averageSpeedOfAnswerSeconds: 0.5, arrivalsPerHour: 7_200, handleSeconds: 12 });
    expect(pre.modelAtMeasured!.serviceLevel).toBeCloseTo(plan.roles[0]!.intervals[0]!.serviceLevel, 10);
    expect(c.rows[1]!.measured.serviceLevel).toBeNull();
    expect(planTable(c)).toMatch(/pre-sale\s+\d+×1\s+7200\s+7200\s+12\.00\s+180/);
  });
});
