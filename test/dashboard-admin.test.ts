/**
 * The ops dashboard's admin endpoints over real Redis and a live gateway: chats leave their
 * counts and samples in the short buckets (GET /v1/admin/stats/recent answers the same from
 * every instance), alerts follow dashboard.alerts, and a supervisor's live view
 * (GET /v1/admin/sessions/:id/live, server-sent events) follows a chat until ops close it.
 */
import { get as httpGet } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { freshPrefix, startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';
import { takeEvents } from '../src/web/ops/sse.ts';

const prefix = freshPrefix();
let redis: RedisHandle;
let g: RunningGateway;
let g2: RunningGateway;
let admin: string;
const clients: TestClient[] = [];
const config = {
  dashboard: { bucketMs: 1_000, alerts: { oldestWaitSeconds: 1, abandonment: 0.3, minOutcomes: 2, windowSeconds: 60 } },
  sessions: { abandonMs: 300 },
  routing: { sweepIntervalMs: 100 },
};

beforeAll(async () => {
  redis = await startRedis();
  [g, g2] = await Promise.all([
    startGateway({ redisUrl: redis.url, keyPrefix: prefix, config }),
    startGateway({ redisUrl: redis.url, keyPrefix: prefix, config }),
  ]);
  admin = await g.token({ sub: 'ops-1', kind: 'admin' });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([g?.stop(), g2?.stop()]);
  await redis?.stop();
});

async function get(gw: RunningGateway, path: string, token: string = admin) {
  const res = await fetch(`${gw.http}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.json() };
}

async function connect(kind: 'buyer' | 'agent', sub: string): Promise<TestClient> {
  const c = await TestClient.connect(g.url, kind, await g.token({ sub, kind }));
  clients.push(c);
  await c.next('welcome');
  return c;
}

const sum = (xs: (number | null)[]) => xs.reduce<number>((a, b) => a + (b ?? 0), 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a text/event-stream (its own socket) and collects its events as they arrive (parsed as the ops page does). */
async function liveView(url: string, token: string): Promise<{ status: number; type: string; events: { type: string; data: any }[]; close: () => void }> {
  const events: { type: string; data: any }[] = [];
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const taken = takeEvents(buf + chunk);
        buf = taken.rest;
        events.push(...(taken.events as { type: string; data: any }[]));
      });
      resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), events, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

describe('dashboard stats', () => {
  it('counts arrivals, time to agent and abandonment, samples the queues, and alerts', async () => {
    const agent = await connect('agent', 'dash-agent');
    agent.send({ type: 'ready', roles: ['after-sale'], capacity: 2 });

    const served = await connect('buyer', 'dash-b1');
    served.send({ type: 'message', clientMsgId: '1', text: '我要退货' });
    const offer = await agent.next('offer');
    await sleep(120);
    agent.send({ type: 'accept', sessionId: offer.sessionId });
    await agent.next('assigned');

    // Two bargaining buyers give up (abandonMs), one keeps waiting with nobody to serve it.
    for (const id of ['dash-b2', 'dash-b3']) {
      const b = await connect('buyer', id);
      b.send({ type: 'message', clientMsgId: '1', text: '能便宜点吗' });
      await b.next('queue');
      await b.close();
    }
    const waiting = await connect('buyer', 'dash-b4');
    waiting.send({ type: 'message', clientMsgId: '1', text: '能便宜点吗' });
    await waiting.next('queue');

    let body: any;
    await until(async () => {
      body = (await get(g, '/v1/admin/stats/recent?minutes=5')).body;
      const role = (r: string) => body.roles.find((x: any) => x.role === r);
      return sum(role('bargaining').abandoned) === 2 && body.alerts.some((a: any) => a.kind === 'oldestWait') && sum(role('bargaining').waiting) > 0;
    }, 10_000, 'dashboard stats recorded');
    expect(body.bucketMs).toBe(1_000);
    expect(body.times.length).toBe(300);
    for (const r of body.roles) for (const k of ['arrivals', 'waiting', 'waitP50Ms']) expect(r[k]).toHaveLength(body.times.length);
    const after = body.roles.find((x: any) => x.role === 'after-sale');
    const bargaining = body.roles.find((x: any) => x.role === 'bargaining');
    expect(sum(after.arrivals)).toBe(1);
    expect(sum(after.answered)).toBe(1);
    // The wait was ≥ 120 ms: its bin's upper edge or the wait itself, never less.
    const p50 = after.waitP50Ms.find((v: number | null) => v !== null);
    expect(p50).toBeGreaterThanOrEqual(100);
    expect(p50).toBeLessThanOrEqual(1_000);
    expect(sum(bargaining.arrivals)).toBe(3);
    expect(Math.max(...after.agentsReady.map((v: number | null) => v ?? 0))).toBe(1);
    expect(Math.max(...after.inUse.map((v: number | null) => v ?? 0))).toBe(1);
    expect(Math.max(...after.capacity.map((v: number | null) => v ?? 0))).toBe(2);
    expect(body.alerts).toEqual(
      expect.arrayContaining([
        { role: 'bargaining', kind: 'oldestWait', value: expect.any(Number), threshold: 1 },
        { role: 'bargaining', kind: 'abandonment', value: 1, threshold: 0.3 },
      ]),
    );
    expect(body.alerts.some((a: any) => a.role === 'after-sale')).toBe(false);

    // Another instance answers from the same buckets.
    const other = (await get(g2, '/v1/admin/stats/recent?minutes=5')).body;
    expect(sum(other.roles.find((x: any) => x.role === 'bargaining').abandoned)).toBe(2);
    expect(sum(other.roles.find((x: any) => x.role === 'after-sale').answered)).toBe(1);
  });

  it('is bounded, shop-scoped, and answers errors as problem+json', async () => {
    const bad = await get(g, '/v1/admin/stats/recent?minutes=0');
    expect(bad.status).toBe(400);
    expect(bad.type).toContain('application/problem+json');
    expect((await get(g, '/v1/admin/stats/recent?minutes=361')).status).toBe(400);
    const shopToken = await g.token({ sub: 'ops-2', kind: 'admin', shop: 'shop-2' });
    const other = await get(g, '/v1/admin/stats/recent?shop=shop-1', shopToken);
    expect(other.status).toBe(403);
    expect(other.body.code).toBe('forbidden');
    const agentToken = await g.token({ sub: 'x', kind: 'agent' });
    expect((await get(g, '/v1/admin/stats/recent', agentToken)).status).toBe(403);
    // More than the window asks for the window.
    const all = (await get(g, '/v1/admin/stats/recent?minutes=360')).body;
    expect(all.times.length).toBe(1_800);
  });
});

describe('supervisor live view', () => {
  it('follows a chat as it happens, in seq order and once each, until ops close it', async () => {
    const agent = await connect('agent', 'live-agent');
    agent.send({ type: 'ready', roles: ['pre-sale'], capacity: 1 });
    const buyer = await connect('buyer', 'live-b1');
    buyer.send({ type: 'message', clientMsgId: '1', text: '这个有货吗' });
    const offer = await agent.next('offer');

    const missing = await get(g, '/v1/admin/sessions/no-such-session/live');
    expect(missing.status).toBe(404);

    // The view is served by the other instance: the bus brings it what happens on this one.
    const { status, type, events, close: leave } = await liveView(`${g2.http}/v1/admin/sessions/${offer.sessionId}/live`, admin);
    expect(status).toBe(200);
    expect(type).toContain('text/event-stream');
    await until(() => events.some((e) => e.type === 'session') && events.some((e) => e.type === 'message'), 5_000, 'the snapshot');
    expect(events[0]!.data).toMatchObject({ id: offer.sessionId, state: 'offered' });

    agent.send({ type: 'accept', sessionId: offer.sessionId });
    await agent.next('assigned');
    agent.send({ type: 'message', sessionId: offer.sessionId, clientMsgId: 'a1', text: '有的亲' });
    buyer.send({ type: 'message', clientMsgId: '2', text: '好的，马上拍' });
    await until(() => events.some((e) => e.type === 'message' && e.data.text === '好的，马上拍'), 5_000, 'the buyer line');
    await until(() => events.some((e) => e.type === 'session' && e.data.state === 'assigned'), 5_000, 'the assignment');

    const close = await fetch(`${g.http}/v1/admin/sessions/${offer.sessionId}/close`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(close.status).toBe(200);
    await until(() => events.some((e) => e.type === 'session' && e.data.closedReason === 'ops_closed'), 5_000, 'the close');
    const seqs = events.filter((e) => e.type === 'message').map((e) => e.data.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs[0]).toBe(1);
    leave();
  });
});
