/**
 * Reliability over real Redis: kill -9 of one of two gateway instances mid-chat, per-buyer
 * connection limits, browser origins, and tenants that must never see each other.
 */
import WebSocket from 'ws';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { freshPrefix, startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';
import { gatewayProcess as launchGateway } from './support/process.ts';

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const FAST = {
  server: { heartbeatMs: 200, instanceTimeoutMs: 1_500 },
  routing: { agentGraceMs: 1_000, sweepIntervalMs: 200 },
};

/** A gateway in its own process (so it can be killed for real), on the test's Redis. */
const gatewayProcess = (keyPrefix: string) => launchGateway(redis.url, { ...FAST, redis: { keyPrefix } });

describe('an instance killed with -9 mid-chat', () => {
  it('loses no message, and every session is served again from the other instance', { timeout: 30_000 }, async () => {
    const prefix = freshPrefix();
    const doomed = await gatewayProcess(prefix);
    const g = await startGateway({ redisUrl: redis.url, keyPrefix: prefix, config: FAST });
    const clients: TestClient[] = [];
    const connect = async (url: string, kind: 'buyer' | 'agent', sub: string) => {
      const c = await TestClient.connect(url, kind, await g.token({ sub, kind }));
      clients.push(c);
      return c;
    };
    try {
      // An agent on each instance; buyers on both.
      const lost = await connect(doomed.url, 'agent', 'on-doomed');
      await lost.next('welcome');
      lost.send({ type: 'ready', roles: ['pre-sale'], capacity: 3 });
      await until(async () => (await g.gateway.deps.store.getAgent('shop-1', 'on-doomed'))?.status === 'ready', 3_000, 'agent ready');

      const buyers: { id: string; c: TestClient; old?: TestClient; sessionId: string; acked: Map<number, string> }[] = [];
      for (let i = 0; i < 3; i++) {
        const id = `k9-${i}`;
        const c = await connect(i < 2 ? doomed.url : g.url, 'buyer', id);
        const { sessionId } = await c.next('welcome');
        buyers.push({ id, c, sessionId, acked: new Map() });
      }
      const say = async (b: (typeof buyers)[number], n: number) => {
        const text = `${b.id} line ${n}`;
        b.c.send({ type: 'message', clientMsgId: `${b.id}-${n}`, text });
        b.acked.set((await b.c.next('ack', (f) => f.clientMsgId === `${b.id}-${n}`)).seq, text);
      };
      for (const b of buyers) await say(b, 1);
      const replies = new Map<string, number[]>();
      for (let i = 0; i < buyers.length; i++) {
        const offer = await lost.next('offer');
        lost.send({ type: 'accept', sessionId: offer.sessionId });
        await lost.next('assigned', (f) => f.sessionId === offer.sessionId);
        lost.send({ type: 'message', sessionId: offer.sessionId, clientMsgId: `r-${offer.sessionId}`, text: 'hello from the doomed instance' });
        replies.set(offer.sessionId, [(await lost.next('ack')).seq]);
      }
      for (const b of buyers) await say(b, 2);

      doomed.proc.kill('SIGKILL');
      await Promise.all([lost.closed, buyers[0]!.c.closed, buyers[1]!.c.closed]);

      // Buyers come back on the surviving instance and resume: nothing they were told is missing.
      for (const b of buyers.slice(0, 2)) {
        b.old = b.c;
        const lastSeq = Math.max(0, ...b.old.all('message').map((m) => m.seq as number));
        b.c = await connect(g.url, 'buyer', b.id);
        expect((await b.c.next('welcome')).sessionId).toBe(b.sessionId);
        b.c.send({ type: 'resume', lastSeq });
      }
      // The agent never returns: the instance is found dead, the grace period runs out, and
      // its sessions go to the agent on the other instance with their whole transcript.
      const rescuer = await connect(g.url, 'agent', 'rescuer');
      await rescuer.next('welcome');
      rescuer.send({ type: 'ready', roles: ['pre-sale'], capacity: 5 });
      for (const b of buyers) {
        const offer = await rescuer.next('offer', (f) => f.sessionId === b.sessionId, 10_000);
        rescuer.send({ type: 'accept', sessionId: offer.sessionId });
        const assigned = await rescuer.next('assigned', (f) => f.sessionId === b.sessionId);
        const texts = new Map(assigned.transcript.map((e: any) => [e.seq, e.text]));
        for (const [seq, text] of b.acked) expect(texts.get(seq), `${b.id} seq ${seq}`).toBe(text);
        for (const seq of replies.get(b.sessionId)!) expect(texts.get(seq)).toBe('hello from the doomed instance');
      }
      expect(await g.gateway.deps.store.getAgent('shop-1', 'on-doomed')).toMatchObject({ status: 'offline', load: 0, sessions: [] });

      // Every chat goes on; each buyer has every agent line exactly once.
      for (const b of buyers) {
        await say(b, 3);
        await rescuer.next('message', (m) => m.sessionId === b.sessionId && m.text === `${b.id} line 3`);
        rescuer.send({ type: 'message', sessionId: b.sessionId, clientMsgId: `again-${b.id}`, text: 'back to you' });
        await b.c.next('message', (m) => m.text === 'back to you');
      }
      for (const b of buyers) {
        const stored = await g.gateway.deps.store.readEvents('shop-1', b.sessionId, 0);
        for (const [seq, text] of b.acked) expect(stored.find((e) => e.seq === seq)?.text).toBe(text);
        // What the shop said reached the buyer: before the crash on the old connection, the
        // rest by resume and live on the new one, each line once per connection.
        const shopLines = stored.filter((e) => e.from !== 'buyer').map((e) => e.seq);
        const heard = [b.old, b.c].flatMap((c) => (c ? c.all('message').map((m) => m.seq as number) : []));
        expect(new Set(heard)).toEqual(new Set(shopLines));
        for (const c of [b.old, b.c]) if (c) expect(c.all('message').length).toBe(new Set(c.all('message').map((m) => m.seq)).size);
      }
    } finally {
      doomed.proc.kill('SIGKILL');
      await Promise.all(clients.map((c) => c.close()));
      await g.stop();
    }
  });
});

describe('abuse limits and isolation', () => {
  let g: RunningGateway;
  beforeAll(async () => {
    g = await startGateway({ redisUrl: redis.url, config: { server: { maxConnectionsPerBuyer: 2, allowedOrigins: ['https://shop.example.com'] } } });
  });
  afterAll(async () => {
    await g?.stop();
  });

  it('caps one buyer’s connections across instances, and frees a slot when one closes', async () => {
    const other = await startGateway({ redisUrl: redis.url, keyPrefix: g.gateway.deps.config().redis.keyPrefix, config: { server: { maxConnectionsPerBuyer: 2 } } });
    try {
      const token = await g.token({ sub: 'many-tabs', kind: 'buyer' });
      const one = await TestClient.connect(g.url, 'buyer', token);
      await one.next('welcome');
      const two = await TestClient.connect(other.url, 'buyer', token);
      await two.next('welcome');
      const three = await TestClient.connect(g.url, 'buyer', token);
      expect(await three.next('error')).toMatchObject({ code: 'rate_limited' });
      expect((await three.closed).code).toBe(1013);
      // The refused connection was registered with its instance beside the count; it is gone from
      // there too, so a crash of this instance would not make the others clean up a ghost.
      const { deps } = g.gateway;
      const r = new Redis(redis.url);
      const members = await r.smembers(`${deps.config().redis.keyPrefix}:instance:${deps.instanceId}`).finally(() => r.disconnect());
      expect(members.filter((m) => m.includes('"many-tabs"'))).toHaveLength(1);
      await one.close();
      await until(async () => {
        const again = await TestClient.connect(other.url, 'buyer', token);
        const f = await Promise.race([again.next('welcome', () => true, 2_000), again.next('error', () => true, 2_000)]);
        await again.close();
        return f.type === 'welcome';
      }, 5_000, 'a free slot after one tab closed');
      await two.close();
    } finally {
      await other.stop();
    }
  });

  it('refuses browser origins that are not allowed; same-origin and non-browser clients are fine', async () => {
    const token = await g.token({ sub: 'origin-buyer', kind: 'buyer' });
    const status = (origin?: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${g.url}/v1/buyer?token=${token}`, origin ? { origin } : {});
        ws.once('open', () => {
          ws.close();
          resolve(101);
        });
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('error', () => {});
      });
    expect(await status('https://evil.example.net')).toBe(403);
    expect(await status('https://shop.example.com')).toBe(101);
    expect(await status(`http://127.0.0.1:${g.port}`)).toBe(101);
    expect(await status()).toBe(101);
  });

  it('never lets an agent or buyer touch another shop’s or buyer’s session', async () => {
    const buyer = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'tenant-b', kind: 'buyer', shop: 'shop-1' }));
    const { sessionId } = await buyer.next('welcome');
    buyer.send({ type: 'message', clientMsgId: '1', text: '我的订单号是 123，地址是…' });
    await buyer.next('ack');
    const outsider = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'intruder', kind: 'agent', shop: 'shop-2' }));
    await outsider.next('welcome');
    outsider.send({ type: 'ready', roles: ['pre-sale'], capacity: 5 });
    for (const f of [
      { type: 'accept', sessionId },
      { type: 'message', sessionId, clientMsgId: 'x', text: 'hi' },
      { type: 'resume', sessionId, lastSeq: 0 },
      { type: 'transfer', sessionId, toRole: 'after-sale' },
      { type: 'close', sessionId },
      { type: 'block', sessionId, reason: 'x' },
    ]) {
      outsider.send(f);
      expect((await outsider.next('error')).code, f.type).toMatch(/^(unknown_session|not_assigned)$/);
    }
    // Another buyer has its own session and hears nothing of this one.
    const nosy = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'tenant-other', kind: 'buyer', shop: 'shop-1' }));
    const own = await nosy.next('welcome');
    expect(own.sessionId).not.toBe(sessionId);
    nosy.send({ type: 'resume', lastSeq: 0 });
    await new Promise((r) => setTimeout(r, 200));
    expect(nosy.frames.some((f) => f.sessionId === sessionId)).toBe(false);
    expect(outsider.frames.some((f) => f.type === 'offer' && f.sessionId === sessionId)).toBe(false);
    expect((await g.gateway.deps.store.getSession('shop-1', sessionId))?.state).toBe('queued');
    await Promise.all([buyer.close(), outsider.close(), nosy.close()]);
  });
});
