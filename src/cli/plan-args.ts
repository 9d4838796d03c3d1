/**
 * `npm run plan` arguments into a forecast: one role from flags, several from repeated
 * `--role NAME:key=value,…`, a forecast file, or the stats the gateway recorded (× growth).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_INTERVAL_MINUTES, DEFAULT_TARGET, forecastSchema, parseRoleSpec, roleParamsSchema, toForecast, type RoleParams } from '../plan/forecast.ts';
import { forecastFromStats, StatsError, type Measured } from '../plan/from-stats.ts';
import type { Forecast } from '../plan/planner.ts';
import { PLAN_COUNTERS, type PlanBucket } from '../store/types.ts';

export const USAGE = `Usage: npm run -s plan -- [options]      (see README.md, "Staffing plan")

How many agents each role needs per interval to answer the target share of buyers within T
seconds (Erlang C; Erlang A when a patience is known), and what that staffing gives.

One role, from flags:
  --arrivals-per-hour N    buyers per hour; several intervals as N/N/N
  --arrivals N             or buyers per interval (--interval-minutes long); N/N/N likewise
  --handle-seconds S       mean handle time of a chat, measured at --concurrency
  --concurrency C          chats one agent holds at once (default 1): C servers per agent
  --patience-seconds P     mean patience of a waiting buyer; given: Erlang A, else Erlang C
  --role-name NAME         the role's name (default pre-sale)

Several roles (repeat --role), each NAME:key=value,...:
  --role pre-sale:arrivals-per-hour=360/1200,handle=240,concurrency=3,patience=90
      keys: arrivals-per-hour | arrivals, handle, concurrency, patience,
            answer-within, target, max-abandonment (that role's target)
  --forecast FILE          a forecast document (JSON): { intervalMinutes, start, target,
                           roles: [{ role, arrivals | arrivalsPerHour, handleSeconds,
                           concurrency, patienceSeconds, target }] }
  --stats FILE             the JSON of GET /v1/admin/plan/stats: plan the recorded event
                           × --growth; handle time, concurrency and patience measured
                           there unless a --role NAME:handle=…,… overrides them
  --growth G               with --stats: arrivals × G (default 1)

Target (defaults for every role):
  --answer-within S        T in seconds (default ${DEFAULT_TARGET.answerWithinSeconds})
  --target SL              share answered within T, 0..1 exclusive (default ${DEFAULT_TARGET.serviceLevel})
  --max-abandonment A      largest share giving up, 0..1 (default ${DEFAULT_TARGET.maxAbandonment}; matters with a patience)
  --interval-minutes M     interval length (default ${DEFAULT_INTERVAL_MINUTES}; --stats: its bucket)
  --start ISO              start of the first interval (date-time with offset)

Output (default: a table):
  --json                   the plan as JSON on stdout
  --out FILE               the plan as JSON into FILE (for: npm run loadtest -- --plan FILE)
  --html FILE              a chart and tables per role into FILE
  -h, --help
`;

export class UsageError extends Error {}

const ROLE_KEYS = ['arrivals-per-hour', 'arrivals', 'handle', 'concurrency', 'patience', 'answer-within', 'target', 'max-abandonment'] as const;

export interface PlanArgs {
  forecast: Forecast;
  measured?: Measured[];
  /** Said on stderr: roles of the stats that could not be planned. */
  notes?: string[];
  json: boolean;
  out?: string | undefined;
  html?: string | undefined;
}

function number(name: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${name}: not a number: "${v}"`);
  return n;
}

const list = (name: string, v: string) => v.split('/').map((x) => number(name, x));

function zodMessage(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ');
}

/** The options of one `--role` spec as a forecast role document (values checked by the schema later). */
function roleDoc(spec: string): Record<string, unknown> {
  const { role, values } = parseRoleSpec(spec);
  const unknown = Object.keys(values).filter((k) => !(ROLE_KEYS as readonly string[]).includes(k));
  if (unknown.length) throw new UsageError(`--role ${spec}: unknown key ${unknown.join(', ')} (keys: ${ROLE_KEYS.join(', ')})`);
  const n = (k: string) => (values[k] === undefined ? undefined : number(`--role ${role} ${k}`, values[k]!));
  const target = { answerWithinSeconds: n('answer-within'), serviceLevel: n('target'), maxAbandonment: n('max-abandonment') };
  const doc: Record<string, unknown> = { role };
  if (values['arrivals-per-hour'] !== undefined) doc.arrivalsPerHour = list(`--role ${role} arrivals-per-hour`, values['arrivals-per-hour']);
  if (values.arrivals !== undefined) doc.arrivals = list(`--role ${role} arrivals`, values.arrivals);
  if (values.handle !== undefined) doc.handleSeconds = n('handle');
  if (values.concurrency !== undefined) doc.concurrency = n('concurrency');
  if (values.patience !== undefined) doc.patienceSeconds = n('patience');
  if (Object.values(target).some((x) => x !== undefined)) doc.target = Object.fromEntries(Object.entries(target).filter(([, x]) => x !== undefined));
  return doc;
}

/** The JSON export of GET /v1/admin/plan/stats, back into buckets. */
function readStats(file: string): { bucketMs: number; from: number; to: number; rows: PlanBucket[] } {
  const statsFile = z.object({
    bucketMs: z.number().int().min(60_000),
    from: z.string(),
    to: z.string(),
    rows: z.array(z.object({ role: z.string(), bucketStart: z.string(), ...Object.fromEntries(PLAN_COUNTERS.map((c) => [c, z.number().min(0).default(0)])) })),
  });
  const parsed = statsFile.safeParse(readJson(file, '--stats'));
  if (!parsed.success) throw new UsageError(`--stats ${file}: not a stats export (${zodMessage(parsed.error)})`);
  const s = parsed.data;
  const rows = s.rows.map((r) => ({
    role: r.role,
    bucketStart: Date.parse(r.bucketStart),
    counts: Object.fromEntries(PLAN_COUNTERS.map((c) => [c, Number((r as Record<string, unknown>)[c] ?? 0)])) as PlanBucket['counts'],
  }));
  return { bucketMs: s.bucketMs, from: Date.parse(s.from), to: Date.parse(s.to), rows };
}

function readJson(file: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: not JSON (${(err as Error).message})`);
  }
}

export function parsePlanArgs(argv: string[]): PlanArgs | 'help' {
  let v: ReturnType<typeof parse>['values'];
  try {
    v = parse(argv).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (v.help) return 'help';
  const opt = (k: keyof typeof v) => (v[k] === undefined ? undefined : number(`--${k}`, String(v[k])));
  const target = Object.fromEntries(
    Object.entries({ answerWithinSeconds: opt('answer-within'), serviceLevel: opt('target'), maxAbandonment: opt('max-abandonment') }).filter(([, x]) => x !== undefined),
  ) as Record<string, number>;
  const single = ['arrivals-per-hour', 'arrivals', 'handle-seconds', 'concurrency', 'patience-seconds', 'role-name'].filter((k) => v[k as keyof typeof v] !== undefined);
  const sources = [single.length ? 'the single-role flags' : '', v.forecast ? '--forecast' : '', v.stats ? '--stats' : ''].filter(Boolean);
  if (sources.length > 1) throw new UsageError(`use one of ${sources.join(', ')}`);
  if (single.length && v.role?.length) throw new UsageError('--role and the single-role flags (--arrivals-per-hour, --handle-seconds, …) exclude each other');
  if (v.growth !== undefined && !v.stats) throw new UsageError('--growth goes with --stats (elsewhere give the arrivals you expect)');
  if (v['interval-minutes'] !== undefined && v.stats) throw new UsageError('--interval-minutes: with --stats the intervals are the recorded buckets');
  const out = { json: Boolean(v.json), out: v.out, html: v.html };

  try {
    if (v.stats) return { ...out, ...fromStats(v, target) };
    let doc: Record<string, unknown>;
    if (v.forecast) {
      const file = readJson(v.forecast, '--forecast');
      if (!file || typeof file !== 'object' || Array.isArray(file)) throw new UsageError(`--forecast ${v.forecast}: expected a JSON object`);
      doc = { ...file, target: { ...((file as { target?: object }).target ?? {}), ...target } };
    } else {
      const roles = v.role?.length ? v.role.map(roleDoc) : [singleRole(v)];
      doc = { roles, target };
    }
    if (v['interval-minutes'] !== undefined) doc.intervalMinutes = opt('interval-minutes');
    if (v.start !== undefined) doc.start = v.start;
    return { ...out, forecast: toForecast(doc) };
  } catch (err) {
    if (err instanceof z.ZodError) throw new UsageError(zodMessage(err));
    if (err instanceof StatsError) throw new UsageError(`--stats: ${err.message}`);
    throw err;
  }
}

function singleRole(v: ReturnType<typeof parse>['values']): Record<string, unknown> {
  if (v['arrivals-per-hour'] === undefined && v.arrivals === undefined) throw new UsageError('give --arrivals-per-hour (or --arrivals), --role, --forecast or --stats; see --help');
  if (v['arrivals-per-hour'] !== undefined && v.arrivals !== undefined) throw new UsageError('give --arrivals-per-hour or --arrivals, not both');
  if (v['handle-seconds'] === undefined) throw new UsageError('--handle-seconds is required');
  const doc: Record<string, unknown> = { role: v['role-name'] ?? 'pre-sale', handleSeconds: number('--handle-seconds', v['handle-seconds']) };
  if (v['arrivals-per-hour'] !== undefined) doc.arrivalsPerHour = list('--arrivals-per-hour', v['arrivals-per-hour']);
  if (v.arrivals !== undefined) doc.arrivals = list('--arrivals', v.arrivals);
  if (v.concurrency !== undefined) doc.concurrency = number('--concurrency', v.concurrency);
  if (v['patience-seconds'] !== undefined) doc.patienceSeconds = number('--patience-seconds', v['patience-seconds']);
  return doc;
}

function fromStats(v: ReturnType<typeof parse>['values'], target: Record<string, number>): { forecast: Forecast; measured: Measured[]; notes: string[] } {
  const stats = readStats(v.stats!);
  const overrides: Record<string, RoleParams> = {};
  for (const spec of v.role ?? []) {
    const { role, arrivals, arrivalsPerHour, ...params } = roleDoc(spec);
    if (arrivals !== undefined || arrivalsPerHour !== undefined) throw new UsageError(`--role ${spec}: with --stats the arrivals come from the stats (× --growth)`);
    overrides[role as string] = roleParamsSchema.parse(params);
  }
  const growth = v.growth === undefined ? 1 : number('--growth', v.growth);
  if (!(growth > 0 && growth <= 1_000)) throw new UsageError(`--growth: must be > 0 and ≤ 1000, got ${growth}`);
  const parsedTarget = forecastSchema.shape.target.parse(target);
  const r = forecastFromStats(stats.rows, {
    from: stats.from,
    to: stats.to,
    bucketMs: stats.bucketMs,
    growth,
    target: { ...DEFAULT_TARGET, ...parsedTarget },
    overrides,
    start: v.start === undefined ? undefined : new Date(z.iso.datetime({ offset: true }).parse(v.start)).toISOString(),
  });
  return { forecast: r.forecast, measured: r.measured, notes: r.skipped.map((s) => `role ${s.role} not planned: ${s.reason} (--role ${s.role}:handle=SECONDS)`) };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      'arrivals-per-hour': { type: 'string' },
      arrivals: { type: 'string' },
      'handle-seconds': { type: 'string' },
      concurrency: { type: 'string' },
      'patience-seconds': { type: 'string' },
      'role-name': { type: 'string' },
      role: { type: 'string', multiple: true },
      forecast: { type: 'string' },
      stats: { type: 'string' },
      growth: { type: 'string' },
      'answer-within': { type: 'string' },
      target: { type: 'string' },
      'max-abandonment': { type: 'string' },
      'interval-minutes': { type: 'string' },
      start: { type: 'string' },
      json: { type: 'boolean' },
      out: { type: 'string' },
      html: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
