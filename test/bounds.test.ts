/**
 * Bounds a buyer can reach, at the gateway: shared rate limits across sockets and instances,
 * the transcript cap, and sessions that wait too long.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { freshPrefix, startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';

let redis: RedisHandle;
let gA: RunningGateway;
let gB: RunningGateway;
/** With a tiny transcript cap, apart from the others (whose sessions would hit it). */
let gCap: RunningGateway;

const config = {
  server: { errorLimit: 500, rateLimit: { perBuyer: { perSecond: 2, burst: 10 }, perShop: { perSecond: 1000, burst: 2000 } } },
  sessions: { maxQueuedMs: 1_500 },
  routing: { sweepIntervalMs: 100 },
};

beforeAll(async () => {
  redis = await startRedis();
  const keyPrefix = freshPrefix();
  gA = await startGateway({ redisUrl: redis.url, keyPrefix, config });
  gB = await startGateway({ redisUrl: redis.url, keyPrefix, config });
  gCap = await startGateway({ redisUrl: redis.url, config: { ...config, sessions: { maxTranscriptEvents: 10 } } });
});
afterAll(async () => {
  await gA?.stop();
  await gB?.stop();
  await gCap?.stop();
  await redis?.stop();
});

describe('a buyer flooding from several sockets on two instances', () => {
  it('is capped as one buyer; another shop and another buyer of the same shop are unaffected', async () => {
    const token = await gA.token({ sub: 'flooder', kind: 'buyer', shop: 'flood-shop' });
    const sockets = await Promise.all([gA, gB, gA, gB].map((g) => TestClient.connect(g.url, 'buyer', token)));
    await Promise.all(sockets.map((s) => s.next('welcome')));
    const started = Date.now();
    sockets.forEach((s, i) => {
      for (let j = 0; j < 20; j++) s.send({ type: 'message', clientMsgId: `f${i}-${j}`, text: `flood ${i} ${j}` });
    });
    const answered = () => sockets.reduce((n, s) => n + s.all('ack').length + s.all('error').length, 0);
    await until(() => answered() >= 80, 10_000, 'every flood frame answered');
    const elapsed = (Date.now() - started) / 1000;
    const acks = sockets.reduce((n, s) => n + s.all('ack').length, 0);
    const limited = sockets.flatMap((s) => s.all('error')).filter((e) => e.code === 'rate_limited');
    // 4 × 20 lines, one bucket of 10 refilled at 2/s: about 10 get through, not 80.
    expect(acks).toBeLessThanOrEqual(10 + Math.ceil(elapsed * 2) + 1);
    expect(acks).toBeGreaterThanOrEqual(10);
    expect(limited.length).toBe(80 - acks);
    expect(limited.every((e) => typeof e.ref === 'string' && e.ref.startsWith('f'))).toBe(true);

    // Meanwhile a buyer of another shop and another buyer of the same shop chat as usual.
    for (const [sub, shop] of [['calm', 'calm-shop'], ['neighbour', 'flood-shop']] as const) {
      const b = await TestClient.connect(gB.url, 'buyer', await gB.token({ sub, kind: 'buyer', shop }));
      await b.next('welcome');
      for (let i = 0; i < 5; i++) b.send({ type: 'message', clientMsgId: `c${i}`, text: `hello ${i}` });
      await until(() => b.all('ack').length === 5, 5_000, `${sub} acked`);
      expect(b.all('error')).toEqual([]);
      await b.close();
    }
    await Promise.all(sockets.map((s) => s.close()));
  });
});

describe('the transcript cap', () => {
  it('answers too_large once a chat holds maxTranscriptEvents events, and stores nothing more', async () => {
    const b = await TestClient.connect(gCap.url, 'buyer', await gCap.token({ sub: 'talker', kind: 'buyer', shop: 'cap-shop' }));
    const { sessionId } = await b.next('welcome');
    for (let i = 0; i < 10; i++) {
      b.send({ type: 'message', clientMsgId: `t${i}`, text: `line ${i}` });
      await Promise.race([b.next('ack', (f) => f.clientMsgId === `t${i}`), b.next('error', (f) => f.ref === `t${i}`)]);
    }
    const refused = b.all('error').filter((e) => e.code === 'too_large');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.message).toContain('transcript');
    const stored = await gCap.gateway.deps.store.readEvents('cap-shop', sessionId, 0);
    expect(stored.length).toBe(10);
    await b.close();
  });
});

describe('a session nobody takes', () => {
  it('is closed with reason queue_timeout after sessions.maxQueuedMs', async () => {
    const b = await TestClient.connect(gB.url, 'buyer', await gB.token({ sub: 'patient', kind: 'buyer', shop: 'empty-shop' }));
    const { sessionId } = await b.next('welcome');
    b.send({ type: 'message', clientMsgId: 'q1', text: '请问这个有货吗' });
    await b.next('queue');
    expect(await b.next('closed', () => true, 6_000)).toMatchObject({ sessionId, reason: 'queue_timeout' });
    expect(await gB.gateway.deps.store.queueLength('empty-shop', 'pre-sale')).toBe(0);
    await b.close();
  });
});
