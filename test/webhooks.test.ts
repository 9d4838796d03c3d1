/**
 * Event webhooks against a real local HTTP receiver, over a real Redis: signed bodies, retries
 * until the receiver takes each event exactly once by id, a gateway killed with -9 in the
 * middle of a delivery (another instance delivers it), dead letters and their replay, and a
 * slow endpoint that does not hold up another.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { freshPrefix, startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';
import { gatewayProcess } from './support/process.ts';
import { WEBHOOK_EVENTS } from '../src/config/webhooks-schema.ts';
import { Redis } from 'ioredis';
import { RedisStore } from '../src/store/redis/redis-store.ts';

const SECRET = 'webhook-secret-0123456789';

interface Hit {
  path: string;
  id: string;
  body: string;
  event: any;
  signature: string;
  status: number;
}

/** A receiver: records every request, answers as the handler for its path says (a status, or 'hold' to keep it open). */
class Receiver {
  readonly hits: Hit[] = [];
  readonly held: ServerResponse[] = [];
  private server!: Server;
  base = '';
  constructor(private readonly answer: (path: string, event: any, nth: number) => number | 'hold') {}

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const event = JSON.parse(body);
        const path = req.url ?? '';
        const nth = this.hits.filter((h) => h.path === path && h.id === event.id).length;
        const a = this.answer(path, event, nth);
        this.hits.push({ path, id: String(req.headers['x-peakdesk-event-id']), body, event, signature: String(req.headers['x-peakdesk-signature']), status: a === 'hold' ? 0 : a });
        if (a === 'hold') this.held.push(res);
        else res.writeHead(a).end();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Ids this path answered with a 2xx, with how often. */
  delivered(path: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const h of this.hits) if (h.path === path && h.status >= 200 && h.status < 300) out.set(h.id, (out.get(h.id) ?? 0) + 1);
    return out;
  }

  async stop(): Promise<void> {
    for (const r of this.held) r.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

const hook = (base: string, path: string, events: readonly string[] = WEBHOOK_EVENTS) => ({ url: `${base}${path}`, secret: SECRET, events: [...events] });
const FAST = { pollIntervalMs: 20, backoffBaseMs: 40, backoffMaxMs: 200, retryForMs: 30_000, timeoutMs: 10_000, perEndpoint: 2, queuePerEndpoint: 4 };

let redis: RedisHandle;
let rx: Receiver;
/** Another origin: endpoints are told apart (and bounded) by origin. */
let rxFast: Receiver;
/** The flaky path fails each event's first 3 attempts. */
const failures = 3;

beforeAll(async () => {
  redis = await startRedis();
  rx = await new Receiver((path, _e, nth) => {
    if (path === '/flaky') return nth < failures ? 503 : 200;
    if (path === '/down') return down ? 500 : 200;
    if (path === '/hang') return 'hold';
    return 200;
  }).start();
  rxFast = await new Receiver(() => 200).start();
});
afterAll(async () => {
  await rxFast?.stop();
  await rx?.stop();
  await redis?.stop();
});
let down = true;

async function buyer(g: RunningGateway, shop: string, id: string): Promise<{ c: TestClient; sessionId: string }> {
  const c = await TestClient.connect(g.url, 'buyer', await g.token({ sub: id, kind: 'buyer', shop }));
  const { sessionId } = await c.next('welcome');
  return { c, sessionId };
}

function verifies(h: Hit): boolean {
  // What an integrator does: HMAC-SHA256 of the raw body, compared in constant time.
  const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(h.body).digest('hex')}`);
  const got = Buffer.from(h.signature);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

describe('event webhooks', () => {
  let g: RunningGateway;
  beforeAll(async () => {
    g = await startGateway({
      redisUrl: redis.url,
      config: {
        webhookDelivery: FAST,
        routing: { sweepIntervalMs: 100 },
        sessions: { rateWindowMs: 60_000 },
        shops: {
          'shop-life': { webhooks: [hook(rx.base, '/life')] },
          'shop-flaky': { webhooks: [hook(rx.base, '/flaky', ['session.opened'])] },
          'shop-slow': { webhooks: [hook(rx.base, '/hang', ['session.opened']), hook(rxFast.base, '/fast', ['session.opened'])] },
        },
      },
    });
  });
  afterAll(async () => {
    await g?.stop();
  });

  it('signs every event of a session from open to rating, and a block, in order of the changes', async () => {
    const shop = 'shop-life';
    const { c, sessionId } = await buyer(g, shop, 'life-b1');
    const a = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'life-a1', kind: 'agent', shop }));
    await a.next('welcome');
    a.send({ type: 'ready', roles: ['pre-sale', 'order-edit', 'bargaining'], capacity: 2 });
    const a2 = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'life-a2', kind: 'agent', shop }));
    await a2.next('welcome');
    a2.send({ type: 'ready', roles: ['after-sale'], capacity: 2 });
    c.send({ type: 'message', clientMsgId: 'm1', text: '这款有货吗' });
    const offer = await a.next('offer');
    a.send({ type: 'accept', sessionId });
    await a.next('assigned');
    a.send({ type: 'transfer', sessionId, toRole: 'after-sale', note: 'refund' });
    await a2.next('offer', (f) => f.sessionId === sessionId);
    a2.send({ type: 'accept', sessionId });
    await a2.next('assigned', (f) => f.sessionId === sessionId);
    a2.send({ type: 'close', sessionId });
    await c.next('message', (f) => f.kind === 'rating_invite');
    c.send({ type: 'rate', sessionId, score: 5, comment: 'great' });
    // A rating ends the rating window: the session closes with it.
    await until(() => rx.hits.some((h) => h.path === '/life' && h.event.type === 'session.closed' && h.event.sessionId === sessionId), 10_000, 'closed event');

    // A second buyer is blocked.
    const b2 = await buyer(g, shop, 'life-b2');
    b2.c.send({ type: 'message', clientMsgId: 'm1', text: '你好' });
    const o2 = await a.next('offer', (f) => f.sessionId === b2.sessionId);
    a.send({ type: 'accept', sessionId: o2.sessionId });
    await a.next('assigned', (f) => f.sessionId === b2.sessionId);
    a.send({ type: 'block', sessionId: b2.sessionId, reason: 'spam' });
    await until(() => rx.hits.some((h) => h.path === '/life' && h.event.type === 'buyer.blocked'), 10_000, 'blocked event');

    // Deliveries run concurrently (perEndpoint), so receipt order may differ: the changes' order is `ts`.
    const byTs = (hs: Hit[]) => hs.sort((x, y) => x.event.ts - y.event.ts);
    const mine = byTs(rx.hits.filter((h) => h.path === '/life' && h.event.sessionId === sessionId));
    expect(mine.map((h) => h.event.type)).toEqual(['session.opened', 'session.queued', 'session.assigned', 'session.transferred', 'session.assigned', 'session.rated', 'session.closed']);
    for (const h of rx.hits.filter((x) => x.path === '/life')) {
      expect(verifies(h)).toBe(true);
      expect(h.id).toBe(h.event.id);
      expect(Object.keys(h.event).sort()).toEqual(['data', 'id', 'sessionId', 'shop', 'ts', 'type']);
      expect(h.event.shop).toBe(shop);
    }
    expect(new Set(mine.map((h) => h.id)).size).toBe(mine.length);
    expect(mine[1]!.event.data).toMatchObject({ buyerId: 'life-b1', role: offer.role, position: 1 });
    expect(mine[2]!.event.data).toEqual({ buyerId: 'life-b1', agentId: 'life-a1', role: offer.role });
    expect(mine[3]!.event.data).toMatchObject({ fromRole: offer.role, toRole: 'after-sale', agentId: 'life-a1', note: 'refund' });
    expect(mine[4]!.event.data).toEqual({ buyerId: 'life-b1', agentId: 'life-a2', role: 'after-sale' });
    expect(mine[5]!.event.data).toEqual({ buyerId: 'life-b1', agentId: 'life-a2', score: 5, comment: 'great' });
    const blocked = byTs(rx.hits.filter((h) => h.path === '/life' && h.event.sessionId === b2.sessionId)).map((h) => h.event.type);
    // closed and blocked come from one step (same ts): in either order.
    expect([...blocked.slice(0, 3), ...blocked.slice(3).sort()]).toEqual(['session.opened', 'session.queued', 'session.assigned', 'buyer.blocked', 'session.closed']);
    expect(mine[6]!.event.data).toMatchObject({ buyerId: 'life-b1' });
    await Promise.all([c.close(), b2.c.close(), a.close(), a2.close()]);
  });

  it('writes nothing to the outbox of a shop without webhooks', async () => {
    const { c } = await buyer(g, 'shop-none', 'none-b1');
    const keys = await (g.gateway.deps.store as any).redis.keys(`*{shop-none}:wh:*`);
    expect(keys).toEqual([]);
    await c.close();
  });

  it('retries a receiver that fails the first 3 attempts until it has each event exactly once by id', async () => {
    const sessions = [];
    for (let i = 0; i < 5; i++) sessions.push(await buyer(g, 'shop-flaky', `flaky-b${i}`));
    await until(() => rx.delivered('/flaky').size === 5, 15_000, 'five events delivered');
    // Settled: nothing of the shop left in flight or scheduled.
    await until(async () => g.gateway.webhooks.busy === 0 && (await g.gateway.deps.store.webhooks.read('shop-flaky', 'probe', Date.now(), { minIdleMs: 60_000, count: 10, leaseMs: 1 })).retryHead === null, 5_000, 'settled');
    const delivered = rx.delivered('/flaky');
    for (const n of delivered.values()) expect(n).toBe(1);
    for (const id of delivered.keys()) expect(rx.hits.filter((h) => h.path === '/flaky' && h.id === id).length).toBe(failures + 1);
    const m = await g.gateway.deps.metrics.webhookDeliveries.get();
    expect(m.values.find((v) => v.labels.outcome === 'retried')?.value).toBeGreaterThanOrEqual(15);
    await Promise.all(sessions.map((s) => s.c.close()));
  });

  it('delivers to a fast endpoint while a slow one holds every request it gets', async () => {
    const sessions = [];
    for (let i = 0; i < 12; i++) sessions.push(await buyer(g, 'shop-slow', `slow-b${i}`));
    await until(() => rxFast.delivered('/fast').size === 12, 15_000, 'all events at the fast endpoint');
    // The slow endpoint has at most its concurrency (2) in flight; the rest wait in the store.
    expect(rx.held.length).toBeGreaterThan(0);
    expect(rx.held.length).toBeLessThanOrEqual(FAST.perEndpoint);
    await Promise.all(sessions.map((s) => s.c.close()));
  });
});

describe('the outbox', () => {
  it('works the same over the embedded store (no REDIS_URL): same Lua, same stream commands', async () => {
    const g = await startGateway({ config: { webhookDelivery: FAST, shops: { 'shop-mem': { webhooks: [hook(rx.base, '/mem', ['session.opened'])] } } } });
    try {
      const { c, sessionId } = await buyer(g, 'shop-mem', 'mem-b1');
      await until(() => rx.delivered('/mem').size === 1, 10_000, 'the event');
      const h = rx.hits.find((x) => x.path === '/mem')!;
      expect(verifies(h)).toBe(true);
      expect(h.event).toMatchObject({ type: 'session.opened', shop: 'shop-mem', sessionId, data: { buyerId: 'mem-b1' } });
      await c.close();
    } finally {
      await g.stop();
    }
  });

  it('gives entries one instance read and never settled to another once they have been idle for minIdleMs', async () => {
    // The store alone (no deliverer): an instance that read entries and died is simulated by a consumer name.
    const store = await RedisStore.connect({ url: redis.url, keyPrefix: freshPrefix() });
    try {
      store.webhooks.setSubscriptions(() => ['session.opened'], WEBHOOK_EVENTS);
      const { sessionId } = await store.openSession('shop-ob', 'ob-b1', Date.now());
      const w = store.webhooks;
      const opts = { minIdleMs: 200, count: 10, leaseMs: 1_000 };
      const first = await w.read('shop-ob', 'dead-instance', Date.now(), opts);
      expect(first.entries.map((e) => [e.type, e.sessionId])).toEqual([['session.opened', sessionId]]);
      // Not yet idle long enough: nobody else gets it; then the other instance takes it over.
      expect((await w.read('shop-ob', 'survivor', Date.now(), opts)).entries).toEqual([]);
      await new Promise((r) => setTimeout(r, 250));
      const taken = await w.read('shop-ob', 'survivor', Date.now(), opts);
      expect(taken.entries.map((e) => e.entry)).toEqual(first.entries.map((e) => e.entry));
      await w.settle('shop-ob', [first.entries[0]!.entry], [], { deadMax: 10 });
      expect((await w.read('shop-ob', 'survivor', Date.now(), { ...opts, minIdleMs: 0 })).backlog).toBe(0);
      // A type no subscriber wants is never written.
      store.webhooks.setSubscriptions(() => [], WEBHOOK_EVENTS);
      await store.openSession('shop-ob', 'ob-b2', Date.now());
      expect((await w.read('shop-ob', 'survivor', Date.now(), opts)).backlog).toBe(0);
    } finally {
      await store.shutdown();
    }
  });
});

describe('the outbox after the data is lost', () => {
  it('writes events again once the store sees a new epoch (a Redis restarted empty), without a config change', async () => {
    const prefix = freshPrefix();
    const store = await RedisStore.connect({ url: redis.url, keyPrefix: prefix });
    const raw = new Redis(redis.url);
    try {
      store.webhooks.setSubscriptions(() => ['session.opened'], WEBHOOK_EVENTS);
      expect(await store.checkEpoch()).toBe(false);
      await store.openSession('shop-ep', 'ep-b1', Date.now());
      const opts = { minIdleMs: 0, count: 10, leaseMs: 1_000 };
      expect((await store.webhooks.read('shop-ep', 'i1', Date.now(), opts)).entries).toHaveLength(1);
      // Everything of this prefix gone, as after a restart without persistence.
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length) await raw.del(...keys);
      expect(await store.checkEpoch()).toBe(true);
      const { sessionId } = await store.openSession('shop-ep', 'ep-b2', Date.now());
      const after = await store.webhooks.read('shop-ep', 'i1', Date.now(), opts);
      expect(after.entries.map((e) => [e.type, e.sessionId])).toEqual([['session.opened', sessionId]]);
    } finally {
      raw.disconnect();
      await store.shutdown();
    }
  });
});

describe('dead letters', () => {
  it('parks a delivery that fails for retryForMs, lists it, and replays it with the same id', async () => {
    const g = await startGateway({
      redisUrl: redis.url,
      config: { webhookDelivery: { ...FAST, retryForMs: 300 }, shops: { 'shop-down': { webhooks: [hook(rx.base, '/down', ['session.opened'])] } } },
    });
    try {
      const admin = { authorization: `Bearer ${await g.token({ sub: 'ops', kind: 'admin', shop: 'shop-down' })}` };
      const { c, sessionId } = await buyer(g, 'shop-down', 'down-b1');
      let list: any[] = [];
      await until(async () => {
        list = (await (await fetch(`${g.http}/v1/admin/webhooks/dead-letters`, { headers: admin })).json()).deadLetters;
        return list.length === 1;
      }, 10_000, 'a dead letter');
      const dl = list[0];
      expect(dl).toMatchObject({ type: 'session.opened', sessionId, url: `${rx.base}/down` });
      expect(dl.attempts).toBeGreaterThanOrEqual(2);
      expect(dl.lastError).toBe('HTTP 500');
      expect(dl.event.id).toBe(dl.eventId);

      // Another shop's admin sees none of it; an unknown id is 404 problem+json.
      const other = { authorization: `Bearer ${await g.token({ sub: 'ops', kind: 'admin', shop: 'shop-x' })}` };
      expect((await (await fetch(`${g.http}/v1/admin/webhooks/dead-letters`, { headers: other })).json()).deadLetters).toEqual([]);
      expect((await fetch(`${g.http}/v1/admin/webhooks/dead-letters?shop=shop-down`, { headers: other })).status).toBe(403);
      const missing = await fetch(`${g.http}/v1/admin/webhooks/dead-letters/1-1/replay`, { method: 'POST', headers: admin });
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toContain('application/problem+json');

      down = false;
      const replay = await fetch(`${g.http}/v1/admin/webhooks/dead-letters/${dl.id}/replay`, { method: 'POST', headers: admin });
      expect(replay.status).toBe(202);
      expect(await replay.json()).toEqual({ id: dl.id, eventId: dl.eventId, status: 'scheduled' });
      await until(() => rx.delivered('/down').get(dl.eventId) === 1, 10_000, 'the replayed event');
      expect((await (await fetch(`${g.http}/v1/admin/webhooks/dead-letters`, { headers: admin })).json()).deadLetters).toEqual([]);
      const m = await g.gateway.deps.metrics.webhookDeliveries.get();
      expect(m.values.find((v) => v.labels.outcome === 'parked')?.value).toBe(1);
      await c.close();
    } finally {
      await g.stop();
    }
  });
});

describe('a gateway killed with -9 mid-delivery', () => {
  it('loses no event: another instance on the same Redis delivers it', { timeout: 60_000 }, async () => {
    const keyPrefix = freshPrefix();
    let holding = true;
    const rx2 = await new Receiver(() => (holding ? 'hold' : 200)).start();
    // Short timeout and queue: the lease of a taken delivery runs out soon after the kill.
    const config = {
      redis: { keyPrefix },
      webhookDelivery: { ...FAST, timeoutMs: 1_000, perEndpoint: 1, queuePerEndpoint: 1 },
      shops: { 'shop-k9': { webhooks: [hook(rx2.base, '/k9', ['session.opened'])] } },
    };
    const doomed = await gatewayProcess(redis.url, config);
    let g: RunningGateway | undefined;
    try {
      const probe = await startGateway({ redisUrl: redis.url, keyPrefix, config: { ...config, webhookDelivery: { ...config.webhookDelivery, pollIntervalMs: 60_000 } } });
      const token = await probe.token({ sub: 'k9-b1', kind: 'buyer', shop: 'shop-k9' });
      await probe.stop();
      const c = await TestClient.connect(doomed.url, 'buyer', token);
      const { sessionId } = await c.next('welcome');
      await until(() => rx2.hits.length === 1, 10_000, 'the first attempt');
      const id = rx2.hits[0]!.id;
      doomed.proc.kill('SIGKILL');
      await c.closed;
      holding = false;
      g = await startGateway({ redisUrl: redis.url, keyPrefix, config });
      await until(() => rx2.delivered('/k9').get(id) === 1, 20_000, 'the event delivered by the other instance');
      expect(rx2.hits.find((h) => h.status === 200)!.event).toMatchObject({ id, type: 'session.opened', sessionId, shop: 'shop-k9' });
    } finally {
      doomed.proc.kill('SIGKILL');
      await g?.stop();
      await rx2.stop();
    }
  });
});
