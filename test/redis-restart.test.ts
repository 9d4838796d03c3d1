/**
 * Redis restarts empty (no persistence) in the middle of chats. The gateway notices (the
 * data's epoch is gone), the shops it knew are swept again, connected agents are registered
 * and ready again without reconnecting, and buyers whose sessions were lost are told so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';

let redis: RedisHandle;
let g: RunningGateway;

beforeAll(async () => {
  redis = await startRedis();
  g = await startGateway({ redisUrl: redis.url, config: { routing: { offerTimeoutMs: 60_000 } } });
});
afterAll(async () => {
  await g?.stop();
  await redis?.stop();
});

describe('Redis restarts empty mid-chat', () => {
  it('re-registers agents and buyers from memory: offers flow again without reconnecting, lost sessions are announced', async () => {
    const shop = 'restart-shop';
    const agent = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'steady-agent', kind: 'agent', shop }));
    await agent.next('welcome');
    agent.send({ type: 'ready', roles: ['pre-sale'], capacity: 1 });
    const served = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'served', kind: 'buyer', shop }));
    const { sessionId: servedSid } = await served.next('welcome');
    served.send({ type: 'message', clientMsgId: 's1', text: '双十一有什么活动？' });
    const offer = await agent.next('offer');
    agent.send({ type: 'accept', sessionId: offer.sessionId });
    await agent.next('assigned');
    // The agent is full, so this one waits in the queue.
    const waiting = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'waiting', kind: 'buyer', shop }));
    const { sessionId: waitingSid } = await waiting.next('welcome');
    waiting.send({ type: 'message', clientMsgId: 'w1', text: '这款有货吗' });
    await waiting.next('queue');

    await redis.restart(); // no AOF, no RDB: it comes back empty
    const store = g.gateway.deps.store;
    await until(async () => (await store.getAgent(shop, 'steady-agent').catch(() => null))?.status === 'ready', 10_000, 'the agent registered and ready again');

    // Both buyers hear that their sessions are gone, and get new ones.
    expect(await served.next('closed', (f) => f.sessionId === servedSid)).toMatchObject({ reason: 'store_reset' });
    expect(await waiting.next('closed', (f) => f.sessionId === waitingSid)).toMatchObject({ reason: 'store_reset' });
    const fresh = await waiting.next('welcome', (f) => f.sessionId !== waitingSid);
    expect(await agent.next('session_closed', (f) => f.sessionId === servedSid)).toMatchObject({ reason: 'store_reset' });
    // The shop is known and indexed for sweeping again.
    expect(await store.shops()).toContain(shop);
    expect(await store.activeShops()).toContain(shop);

    // The agent, never reconnected, gets the waiting buyer's next message as an offer.
    waiting.send({ type: 'message', clientMsgId: 'w2', text: '这款有货吗？还在吗' });
    const again = await agent.next('offer', (f) => f.sessionId === fresh.sessionId, 10_000);
    agent.send({ type: 'accept', sessionId: again.sessionId });
    await agent.next('assigned', (f) => f.sessionId === fresh.sessionId);
    // And going ready again is not refused.
    agent.send({ type: 'ready', roles: ['pre-sale'], capacity: 2 });
    await new Promise((r) => setTimeout(r, 300));
    expect(agent.all('error')).toEqual([]);
    expect([...agent.violations, ...served.violations, ...waiting.violations]).toEqual([]);
    await Promise.all([agent.close(), served.close(), waiting.close()]);
  }, 30_000);
});
