/**
 * `npm run plan` as a user runs it: the exact command, several roles, recorded
 * stats, the files it writes, and bad input (clear message, non-zero exit).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parsePlanArgs, UsageError } from '../src/cli/plan-args.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'peakdesk-plan-'));

async function plan(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'src/cli/plan.ts', ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('npm run plan', () => {
  it('prints the plan as JSON for the issue example (the exact npm command)', async () => {
    const { stdout } = await run('npm', ['run', '-s', 'plan', '--', '--json', '--arrivals-per-hour', '360', '--handle-seconds', '240', '--concurrency', '1', '--answer-within', '20', '--target', '0.8'], {
      timeout: 60_000,
    });
    const out = JSON.parse(stdout);
    expect(out.agents).toBe(29);
    expect(out.serviceLevel).toBeCloseTo(0.8403, 4);
    expect(out.averageSpeedOfAnswerSeconds).toBeCloseTo(11.63, 2);
    expect(out.occupancy).toBeCloseTo(24 / 29, 6);
    expect(out.roles).toHaveLength(1);
    expect(out.roles[0]).toMatchObject({ role: 'pre-sale', model: 'erlang-c', agents: 29, concurrency: 1 });
  });

  it('plans several roles and intervals, and writes the JSON and HTML files', async () => {
    const out = join(dir, 'plan.json');
    const html = join(dir, 'plan.html');
    const { code, stdout } = await plan([
      '--role', 'pre-sale:arrivals-per-hour=360/1440,handle=240,concurrency=3,patience=90',
      '--role', 'after-sale:arrivals=30/60,handle=600,target=0.9',
      '--interval-minutes', '30', '--start', '2026-11-10T23:30:00+08:00', '--json', '--out', out, '--html', html,
    ]);
    expect(code).toBe(0);
    const p = JSON.parse(stdout);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(p);
    const [pre, after] = p.roles;
    expect(pre).toMatchObject({ role: 'pre-sale', model: 'erlang-a', concurrency: 3, patienceSeconds: 90 });
    expect(pre.intervals.map((i: any) => i.arrivals)).toEqual([180, 720]);
    expect(pre.intervals[1].start).toBe('2026-11-10T16:00:00.000Z');
    for (const i of pre.intervals) {
      expect(i.servers).toBe(i.agents * 3);
      expect(i.serviceLevel).toBeGreaterThanOrEqual(0.8);
      expect(i.abandonment).toBeLessThanOrEqual(0.05);
    }
    expect(after.target.serviceLevel).toBe(0.9);
    expect(after.intervals.every((i: any) => i.serviceLevel >= 0.9)).toBe(true);
    expect(p.agents).toBe(pre.agents + after.agents);
    for (const r of p.roles) for (const k of ['agents', 'serviceLevel', 'averageSpeedOfAnswerSeconds', 'occupancy']) expect(typeof r[k], k).toBe('number');
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('new Chart(');
    expect(page).toContain('after-sale');
    expect(page).not.toMatch(/<script src=/); // self-contained
  });

  it('plans from the stats the gateway recorded, × growth, with an override', async () => {
    const stats = join(dir, 'stats.json');
    const bucket = (min: number) => new Date(Date.UTC(2025, 10, 10, 16, min)).toISOString();
    const row = (min: number, arrivals: number) => ({ role: 'pre-sale', bucketStart: bucket(min), arrivals, transfersIn: 0, abandoned: 2, abandonWaitMs: 60_000, assigned: arrivals - 2, answered: arrivals - 2, waitMs: 120_000, handled: arrivals - 2, handleMs: (arrivals - 2) * 180_000, concurrencySum: 0, capacitySum: (arrivals - 2) * 2 });
    writeFileSync(stats, JSON.stringify({ shop: 's', bucketMs: 900_000, from: bucket(0), to: bucket(30), rows: [row(0, 12), row(15, 42)] }));
    const { code, stdout, stderr } = await plan(['--stats', stats, '--growth', '10', '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const r = JSON.parse(stdout).roles[0];
    expect(r.intervals.map((i: any) => i.arrivals)).toEqual([120, 420]);
    expect(r).toMatchObject({ handleSeconds: 180, concurrency: 2, model: 'erlang-a' });
    // Patience: (answered waits 240 s + abandoned waits 120 s) / 4 abandonments.
    expect(r.patienceSeconds).toBeCloseTo(90, 6);
    const over = JSON.parse((await plan(['--stats', stats, '--role', 'pre-sale:handle=300,concurrency=1', '--json'])).stdout).roles[0];
    expect(over).toMatchObject({ handleSeconds: 300, concurrency: 1 });
  });

  it('refuses bad input with a clear message and a non-zero exit', async () => {
    for (const [args, message] of [
      [[], /give --arrivals-per-hour/],
      [['--arrivals-per-hour', 'many', '--handle-seconds', '240'], /--arrivals-per-hour: not a number: "many"/],
      [['--arrivals-per-hour', '360'], /--handle-seconds is required/],
      [['--arrivals-per-hour', '360', '--handle-seconds', '240', '--target', '1.2'], /serviceLevel/],
      [['--arrivals-per-hour', '360', '--handle-seconds', '240', '--concurrency', '0'], /concurrency/],
      [['--arrivals-per-hour', '360', '--handle-seconds', '240', '--stats', 'x.json'], /use one of/],
      [['--role', 'pre-sale:handle=240'], /exactly one of arrivals and arrivalsPerHour/],
      [['--role', 'pre-sale:arrivals=10,handel=240'], /unknown key handel/],
      [['--forecast', join(dir, 'missing.json')], /no such file/],
      [['--frobnicate'], /Unknown option '--frobnicate'/],
      [['--arrivals-per-hour', '360', '--handle-seconds', '240', '--growth', '2'], /--growth goes with --stats/],
    ] as [string[], RegExp][]) {
      expect(() => parsePlanArgs(args), args.join(' ')).toThrow(UsageError);
      expect(() => parsePlanArgs(args), args.join(' ')).toThrow(message);
    }
    // What the user sees: the message on stderr, nothing on stdout, exit code 2.
    const r = await plan(['--arrivals-per-hour', '360', '--handle-seconds', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^plan: --handle-seconds: not a number: "soon"/);
    expect(r.stdout).toBe('');
  });
});
