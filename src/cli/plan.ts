/**
 * npm run plan: a staffing plan per role and interval (see src/cli/plan-args.ts for the
 * options, src/plan for the model). A table by default; --json, --out FILE, --html FILE.
 */
import { writeFileSync } from 'node:fs';
import { makePlan, type Plan } from '../plan/planner.ts';
import { parsePlanArgs, USAGE, UsageError } from './plan-args.ts';
import { renderPlanHtml } from './plan-html.ts';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const sec = (x: number | null) => (x === null ? 'inf' : x.toFixed(1));

function table(plan: Plan): string {
  const head = ['role', 'interval', 'arrivals/h', 'agents', 'servers', 'service level', 'ASA s', 'abandonment', 'occupancy'];
  const rows = plan.roles.flatMap((r) =>
    r.intervals.map((i) => [r.role, i.start?.slice(0, 16).replace('T', ' ') ?? `#${i.index}`, i.arrivalsPerHour.toFixed(0), `${i.agents}${i.met ? '' : '!'}`, String(i.servers), pct(i.serviceLevel), sec(i.averageSpeedOfAnswerSeconds), pct(i.abandonment), pct(i.occupancy)]),
  );
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((x, c) => (c < 2 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join('  ');
  const t = plan.target;
  const models = plan.roles.map((r) => `${r.role}: ${r.model === 'erlang-a' ? `Erlang A, patience ${sec(r.patienceSeconds)} s` : 'Erlang C'}, handle ${r.handleSeconds.toFixed(1)} s, ${r.concurrency} chat(s) per agent`);
  return [
    `target: ${pct(t.serviceLevel)} answered within ${t.answerWithinSeconds} s, at most ${pct(t.maxAbandonment)} giving up; intervals of ${plan.intervalSeconds / 60} min`,
    ...models,
    '',
    line(head),
    ...rows.map(line),
    '',
    `${plan.agents} agents at each role's peak in all; service level ${pct(plan.serviceLevel)}, occupancy ${pct(plan.occupancy)}${plan.roles.some((r) => r.intervals.some((i) => !i.met)) ? '\n! = no staffing up to the search bound meets the target' : ''}`,
  ].join('\n');
}

function main(): number {
  let args: ReturnType<typeof parsePlanArgs>;
  try {
    args = parsePlanArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`plan: ${err.message}\n(npm run -s plan -- --help for the options)\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  for (const n of args.notes ?? []) process.stderr.write(`plan: ${n}\n`);
  let plan: Plan;
  try {
    plan = makePlan(args.forecast);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    process.stderr.write(`plan: ${err.message}\n`);
    return 2;
  }
  if (args.out) writeFileSync(args.out, `${JSON.stringify(plan, null, 2)}\n`);
  if (args.html) writeFileSync(args.html, renderPlanHtml(plan));
  if (args.json) process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
  else process.stdout.write(`${table(plan)}\n`);
  return 0;
}

process.exitCode = main();
