/**
 * routing.overflow through two gateway instances on one Redis: a pre-sale session waiting past
 * afterMs reaches an idle bargaining agent, never before, and only one of two racing agents
 * (one per instance) ever gets it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { freshPrefix, startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient } from './support/client.ts';

let redis: RedisHandle;
let gA: RunningGateway;
let gB: RunningGateway;
const AFTER_MS = 2_000;

beforeAll(async () => {
  redis = await startRedis();
  const keyPrefix = freshPrefix();
  const config = { routing: { sweepIntervalMs: 100, offerTimeoutMs: 60_000, overflow: { 'pre-sale': { afterMs: AFTER_MS, to: ['bargaining'] } } } };
  gA = await startGateway({ redisUrl: redis.url, keyPrefix, config });
  gB = await startGateway({ redisUrl: redis.url, keyPrefix, config });
});
afterAll(async () => {
  await gA?.stop();
  await gB?.stop();
  await redis?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('overflow', () => {
  it('an idle bargaining agent gets a pre-sale session after afterMs, never before, and only one of two instances\' agents', async () => {
    const agents: TestClient[] = [];
    for (const [g, sub] of [[gA, 'bar-a'], [gB, 'bar-b']] as const) {
      const a = await TestClient.connect(g.url, 'agent', await g.token({ sub, kind: 'agent' }));
      await a.next('welcome');
      a.send({ type: 'ready', roles: ['bargaining'], capacity: 3 });
      agents.push(a);
    }
    await sleep(200);
    const buyers: TestClient[] = [];
    const sessions: string[] = [];
    const queuedAt = Date.now();
    for (let i = 0; i < 3; i++) {
      const g = i % 2 ? gB : gA;
      const b = await TestClient.connect(g.url, 'buyer', await g.token({ sub: `ovf-${i}`, kind: 'buyer' }));
      sessions.push(String((await b.next('welcome')).sessionId));
      b.send({ type: 'message', clientMsgId: 'm1', text: '这个有货吗' });
      expect((await b.next('queue')).role).toBe('pre-sale');
      buyers.push(b);
    }
    const offers: { agent: number; at: number; frame: Record<string, unknown> }[] = [];
    agents.forEach((a, i) => {
      void (async () => {
        for (;;) {
          const f = await a.next('offer', () => true, 10_000).catch(() => null);
          if (!f) return;
          offers.push({ agent: i, at: Date.now(), frame: f });
          a.send({ type: 'accept', sessionId: f.sessionId });
        }
      })();
    });
    await sleep(AFTER_MS - 300);
    expect(offers).toEqual([]);
    await sleep(2_500);
    // Each session offered exactly once, to one agent, keeping its role, marked overflow.
    expect(offers.map((o) => o.frame.sessionId).sort()).toEqual([...sessions].sort());
    for (const o of offers) {
      expect(o.frame).toMatchObject({ role: 'pre-sale', overflow: true });
      expect(o.at - queuedAt).toBeGreaterThanOrEqual(AFTER_MS - 50);
    }
    for (const [i, a] of agents.entries()) {
      for (const o of offers.filter((x) => x.agent === i)) {
        expect(await a.next('assigned', (f) => f.sessionId === o.frame.sessionId)).toMatchObject({ role: 'pre-sale', overflow: true });
      }
    }
    for (const sid of sessions) expect((await gA.gateway.deps.store.getSession('shop-1', sid))?.state).toBe('assigned');
    const metrics = (await (await fetch(`${gA.http}/metrics`)).text()) + (await (await fetch(`${gB.http}/metrics`)).text());
    const counted = [...metrics.matchAll(/^peakdesk_overflows_total\{shop="shop-1",role="pre-sale",to="bargaining"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(counted).toBe(3);
    await Promise.all([...agents, ...buyers].map((c) => c.close()));
  });
});
