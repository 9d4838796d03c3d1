/**
 * The staffing plan's recording and admin endpoints over real Redis: chats through a live
 * gateway leave their counts in the shop's stats buckets (with an expiry), which come back
 * as JSON and CSV and turn into a plan.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { freshPrefix, startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';
import { parsePlanArgs } from '../src/cli/plan-args.ts';

const BUCKET_MS = 60_000;
const RETENTION_MS = 2 * 3_600_000;
const prefix = freshPrefix();
let redis: RedisHandle;
let raw: Redis;
let g: RunningGateway;
let admin: string;
const clients: TestClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
  g = await startGateway({ redisUrl: redis.url, keyPrefix: prefix, config: { plan: { bucketMs: BUCKET_MS, retentionMs: RETENTION_MS }, sessions: { abandonMs: 400 }, routing: { sweepIntervalMs: 100 } } });
  admin = await g.token({ sub: 'ops-1', kind: 'admin' });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await g?.stop();
  raw?.disconnect();
  await redis?.stop();
});

async function call(method: string, path: string, opts: { token?: string | null; body?: unknown } = {}) {
  const token = opts.token === undefined ? admin : opts.token;
  const res = await fetch(`${g.http}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  const json = res.headers.get('content-type')?.includes('json');
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: json && text ? JSON.parse(text) : text };
}

async function connect(kind: 'buyer' | 'agent', sub: string): Promise<TestClient> {
  const c = await TestClient.connect(g.url, kind, await g.token({ sub, kind }));
  clients.push(c);
  await c.next('welcome');
  return c;
}

const startedAt = Date.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('staffing-plan stats', () => {
  it('records arrivals, answers, handle times, concurrency and abandonment where they happen', async () => {
    const agent = await connect('agent', 'plan-agent');
    agent.send({ type: 'ready', roles: ['after-sale'], capacity: 2 });

    const served = await connect('buyer', 'plan-b1');
    served.send({ type: 'message', clientMsgId: '1', text: '我要退货' });
    const offer = await agent.next('offer');
    await sleep(150);
    agent.send({ type: 'accept', sessionId: offer.sessionId });
    await agent.next('assigned');
    await sleep(300);
    agent.send({ type: 'close', sessionId: offer.sessionId });
    await served.next('message', (f) => f.kind === 'rating_invite');

    const gaveUp = await connect('buyer', 'plan-b2');
    gaveUp.send({ type: 'message', clientMsgId: '1', text: '能便宜点吗' });
    await gaveUp.next('queue');
    await sleep(200);
    await gaveUp.close();
    // Left the page: a give-up only once sessions.abandonMs closes the session as abandoned.

    let rows: any[] = [];
    await until(async () => {
      rows = (await call('GET', `/v1/admin/plan/stats?from=${startedAt - BUCKET_MS}`)).body.rows;
      const sum = (role: string, k: string) => rows.filter((r) => r.role === role).reduce((s, r) => s + r[k], 0);
      return sum('after-sale', 'handled') === 1 && sum('bargaining', 'abandoned') === 1;
    }, 5_000, 'stats recorded');
    const total = (role: string) => {
      const out: Record<string, number> = {};
      for (const r of rows.filter((x) => x.role === role)) for (const [k, v] of Object.entries(r)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
      return out;
    };
    const after = total('after-sale');
    expect(after).toMatchObject({ arrivals: 1, transfersIn: 0, assigned: 1, answered: 1, handled: 1, concurrencySum: 1, capacitySum: 2, abandoned: 0 });
    expect(after.waitMs).toBeGreaterThanOrEqual(100);
    expect(after.handleMs).toBeGreaterThanOrEqual(250);
    expect(after.handleMs).toBeLessThan(5_000);
    const bargaining = total('bargaining');
    expect(bargaining).toMatchObject({ arrivals: 1, abandoned: 1, assigned: 0 });
    expect(bargaining.abandonWaitMs).toBeGreaterThanOrEqual(150);
    for (const r of rows) expect(Date.parse(r.bucketStart) % BUCKET_MS).toBe(0);

    // Kept in Redis for the retention after the bucket ends, then expired by Redis itself.
    const keys = await raw.keys(`${prefix}:{shop-1}:ps:${BUCKET_MS}:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const ttl = await raw.pttl(key);
      expect(ttl).toBeGreaterThan(RETENTION_MS - 5_000);
      expect(ttl).toBeLessThanOrEqual(RETENTION_MS + BUCKET_MS);
    }
  });

  it('exports the stats as CSV', async () => {
    const res = await call('GET', `/v1/admin/plan/stats?from=${new Date(startedAt - BUCKET_MS).toISOString()}&format=csv`);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/csv/);
    const [head, ...lines] = (res.body as string).trim().split('\r\n');
    expect(head).toBe('shop,role,bucketStart,bucketMs,arrivals,transfersIn,abandoned,abandonWaitMs,assigned,answered,waitMs,handled,handleMs,concurrencySum,capacitySum');
    const cols = head!.split(',');
    const rows = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
    expect(rows.find((r) => r.role === 'after-sale' && r.handled === '1')).toMatchObject({ shop: 'shop-1', bucketMs: String(BUCKET_MS) });
  });

  it('exports stats the CLI plans from (npm run plan -- --stats FILE)', async () => {
    const res = await call('GET', `/v1/admin/plan/stats?from=${startedAt - BUCKET_MS}`);
    const file = join(mkdtempSync(join(tmpdir(), 'peakdesk-stats-')), 'stats.json');
    writeFileSync(file, JSON.stringify(res.body));
    const args = parsePlanArgs(['--stats', file, '--growth', '3', '--role', 'bargaining:handle=60']);
    if (args === 'help') throw new Error('unexpected help');
    const roles = Object.fromEntries(args.forecast.roles.map((r) => [r.role, r]));
    expect(roles['after-sale']!.arrivals.reduce((s, n) => s + n, 0)).toBe(3);
    expect(roles.bargaining).toMatchObject({ handleSeconds: 60, arrivals: expect.any(Array) });
    expect(args.forecast.intervalSeconds).toBe(BUCKET_MS / 1000);
  });

  it('plans from the recorded event × growth, measured handle time and patience, with overrides', async () => {
    const from = startedAt - BUCKET_MS;
    const { status, body } = await call('POST', '/v1/admin/plan', {
      body: { from, growth: 200, target: { answerWithinSeconds: 10 }, overrides: { bargaining: { handleSeconds: 120, concurrency: 2 } } },
    });
    expect(status).toBe(200);
    const byRole = Object.fromEntries(body.plan.roles.map((r: any) => [r.role, r]));
    expect(Object.keys(byRole).sort()).toEqual(['after-sale', 'bargaining']);
    const after = byRole['after-sale'];
    const measured = body.measured.find((m: any) => m.role === 'after-sale');
    expect(after.handleSeconds).toBeCloseTo(measured.handleSeconds, 6);
    expect(after.concurrency).toBe(2); // the capacity the agent had set
    expect(after.model).toBe('erlang-c'); // nobody gave up in after-sale
    expect(after.target).toEqual({ answerWithinSeconds: 10, serviceLevel: 0.8, maxAbandonment: 0.05 });
    expect(after.intervals.reduce((s: number, i: any) => s + i.arrivals, 0)).toBe(200);
    expect(after.agents).toBeGreaterThanOrEqual(1);
    const bargaining = byRole.bargaining;
    expect(bargaining).toMatchObject({ handleSeconds: 120, concurrency: 2, model: 'erlang-a' });
    expect(bargaining.patienceSeconds).toBeCloseTo(body.measured.find((m: any) => m.role === 'bargaining').patienceSeconds, 6);
    // 200 arrivals within a one-minute bucket at 120 s each: 400 Erlangs on two slots per agent.
    const busiest = bargaining.intervals.find((i: any) => i.arrivals > 0);
    expect(busiest.agents * 2).toBeGreaterThanOrEqual(400 * (1 - 0.05));
    expect(busiest.serviceLevel).toBeGreaterThanOrEqual(0.8);
    expect(busiest.abandonment).toBeLessThanOrEqual(0.05);
  });

  it('answers bad input and missing data with 400, other tokens with 401/403', async () => {
    // Every recorded role by default: one nobody has handled yet is left out, and says why.
    const partial = await call('POST', '/v1/admin/plan', { body: { from: startedAt - BUCKET_MS } });
    expect(partial.status).toBe(200);
    expect(partial.body.plan.roles.map((r: any) => r.role)).toEqual(['after-sale']);
    expect(partial.body.skipped).toEqual([{ role: 'bargaining', reason: expect.stringMatching(/handle time/) }]);
    // Asked for by name, it is an error.
    const noHandle = await call('POST', '/v1/admin/plan', { body: { from: startedAt - BUCKET_MS, roles: ['bargaining'] } });
    expect(noHandle.status).toBe(400);
    expect(noHandle.body.code).toBe('bad_request');
    expect(noHandle.body.detail).toMatch(/bargaining.*handle time/);
    const empty = await call('POST', '/v1/admin/plan', { body: { from: 0, to: BUCKET_MS * 10 } });
    expect(empty.status).toBe(400);
    expect(empty.body.detail).toMatch(/no arrivals/);
    for (const [method, path, body] of [
      ['GET', '/v1/admin/plan/stats?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z'],
      ['GET', '/v1/admin/plan/stats?from=yesterday'],
      ['GET', '/v1/admin/plan/stats?format=xml'],
      ['GET', `/v1/admin/plan/stats?from=0&to=${BUCKET_MS * 20_000}`],
      ['POST', '/v1/admin/plan', { growth: 0 }],
      ['POST', '/v1/admin/plan', { from: 0, to: BUCKET_MS * 3_000 }],
      ['POST', '/v1/admin/plan', { target: { serviceLevel: 1 } }],
      ['POST', '/v1/admin/plan', { overrides: { 'pre-sale': { concurrency: 51 } } }],
      ['POST', '/v1/admin/plan', { surprise: true }],
    ] as [string, string, unknown?][]) {
      const res = await call(method, path, { body });
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.type).toMatch(/problem\+json/);
      expect(res.body.code).toBe('bad_request');
    }
    const buyer = await g.token({ sub: 'b', kind: 'buyer' });
    for (const [method, path] of [
      ['GET', '/v1/admin/plan/stats'],
      ['POST', '/v1/admin/plan'],
    ]) {
      expect((await call(method!, path!, { token: null, body: method === 'POST' ? {} : undefined })).status).toBe(401);
      expect((await call(method!, path!, { token: buyer, body: method === 'POST' ? {} : undefined })).status).toBe(403);
    }
  });
});
