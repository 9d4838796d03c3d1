import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { freshPrefix, startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';

let redis: RedisHandle;
let gA: RunningGateway;
let gB: RunningGateway;

beforeAll(async () => {
  redis = await startRedis();
  // Two gateway instances sharing one Redis, each with its own connections.
  const keyPrefix = freshPrefix();
  gA = await startGateway({ redisUrl: redis.url, keyPrefix });
  gB = await startGateway({ redisUrl: redis.url, keyPrefix });
});
afterAll(async () => {
  await gA?.stop();
  await gB?.stop();
  await redis?.stop();
});

describe('two gateway instances on one Redis', () => {
  it('relays a chat between a buyer on one instance and an agent on the other', async () => {
    const b = await TestClient.connect(gA.url, 'buyer', await gA.token({ sub: 'x-b', kind: 'buyer', shop: 'relay' }));
    const { sessionId } = await b.next('welcome');
    const a = await TestClient.connect(gB.url, 'agent', await gB.token({ sub: 'x-a', kind: 'agent', shop: 'relay' }));
    await a.next('welcome');
    a.send({ type: 'ready', roles: ['pre-sale'], capacity: 3 });
    b.send({ type: 'message', clientMsgId: '1', text: '双十一有什么活动？' });
    expect((await a.next('offer')).sessionId).toBe(sessionId);
    a.send({ type: 'accept', sessionId });
    await a.next('assigned');
    for (let i = 0; i < 20; i++) {
      b.send({ type: 'message', clientMsgId: `b${i}`, text: `buyer ${i}` });
      a.send({ type: 'message', sessionId, clientMsgId: `a${i}`, text: `agent ${i}` });
    }
    const fromAgent = () => b.all('message').filter((m) => m.from === 'agent');
    await until(() => a.all('message').length === 20 && fromAgent().length === 20, 5000, 'all relayed');
    // Each side sees the other's lines once each, in seq order.
    const seqs = (c: TestClient) => c.all('message').map((m) => m.seq as number);
    for (const c of [a, b]) expect(seqs(c)).toEqual([...seqs(c)].sort((x, y) => x - y));
    expect(new Set(a.all('message').map((m) => m.text)).size).toBe(20);
    expect(fromAgent().map((m) => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => `agent ${i}`));
    expect([...a.violations, ...b.violations]).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });

  it('50 agents racing for 200 sessions across both instances: each session assigned exactly once', async () => {
    const shop = 'race';
    const gateways = [gA, gB];
    const agents = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const g = gateways[i % 2]!;
        const c = await TestClient.connect(g.url, 'agent', await g.token({ sub: `agent-${i}`, kind: 'agent', shop }));
        await c.next('welcome');
        return { id: `agent-${i}`, c };
      }),
    );
    // Every agent accepts whatever it is offered, twice (a double click), and so races the others.
    const assigned = new Map<string, string[]>();
    for (const { id, c } of agents) {
      c.ws.on('message', (data) => {
        const f = JSON.parse(data.toString());
        if (f.type === 'offer') {
          c.send({ type: 'accept', sessionId: f.sessionId });
          c.send({ type: 'accept', sessionId: f.sessionId });
        }
        if (f.type === 'assigned') assigned.set(f.sessionId, [...(assigned.get(f.sessionId) ?? []), id]);
      });
      c.send({ type: 'ready', roles: ['pre-sale'], capacity: 4 });
    }
    const buyers = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const g = gateways[(i + 1) % 2]!;
        const c = await TestClient.connect(g.url, 'buyer', await g.token({ sub: `buyer-${i}`, kind: 'buyer', shop }));
        const w = await c.next('welcome');
        c.send({ type: 'message', clientMsgId: 'hello', text: `我想问一下 ${i}` });
        return { c, sessionId: w.sessionId as string };
      }),
    );
    await until(() => assigned.size === 200, 15_000, '200 assignments');
    // Let any late duplicate show up before judging.
    await new Promise((r) => setTimeout(r, 300));
    const store = gA.gateway.deps.store;
    for (const { sessionId } of buyers) {
      const owners = assigned.get(sessionId) ?? [];
      // The double click re-sends `assigned` to the same agent only; never a second agent.
      expect(new Set(owners).size).toBe(1);
      const s = await store.getSession(shop, sessionId);
      expect(s?.state).toBe('assigned');
      expect(s?.agentId).toBe(owners[0]);
    }
    let held = 0;
    for (const { id } of agents) {
      const view = await store.getAgent(shop, id);
      expect(view!.load).toBeLessThanOrEqual(4);
      expect(view!.sessions.length).toBe(view!.load);
      held += view!.sessions.length;
    }
    expect(held).toBe(200);
    await Promise.all([...agents.map((a) => a.c.close()), ...buyers.map((b) => b.c.close())]);
  }, 30_000);
});
