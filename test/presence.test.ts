/**
 * Buyer presence through the gateway, on real Redis and on the embedded engine: agents see who
 * is there (`buyer` in offers, `buyer_status`), offline buyers wait behind online ones and are
 * closed as `abandoned` after sessions.abandonMs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['redis', 'embedded'] as const)('buyer presence (%s)', (engine) => {
  let g: RunningGateway;
  beforeAll(async () => {
    g = await startGateway({
      ...(engine === 'redis' ? { redisUrl: redis.url } : {}),
      config: { sessions: { abandonMs: 1_500 }, routing: { sweepIntervalMs: 100, offerTimeoutMs: 60_000 } },
    });
  });
  afterAll(async () => {
    await g?.stop();
  });

  const buyer = async (sub: string, claims: Record<string, unknown> = {}) => {
    const b = await TestClient.connect(g.url, 'buyer', await g.token({ sub, kind: 'buyer', ...claims }));
    const sessionId = String((await b.next('welcome')).sessionId);
    return { b, sessionId };
  };

  it('offer and assigned carry the buyer; buyer_status reaches the agent on disconnect and reconnect', async () => {
    const agent = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'ps-agent', kind: 'agent' }));
    await agent.next('welcome');
    agent.send({ type: 'ready', roles: ['pre-sale'], capacity: 2 });
    const { b, sessionId } = await buyer('ps-buyer', { vip: 2, name: '小王' });
    b.send({ type: 'message', clientMsgId: 'm1', text: '这个有货吗' });
    const offer = await agent.next('offer');
    expect(offer).toMatchObject({ sessionId, buyer: { id: 'ps-buyer', name: '小王', vip: 2, online: true } });
    agent.send({ type: 'accept', sessionId });
    expect(await agent.next('assigned')).toMatchObject({ sessionId, buyer: { id: 'ps-buyer', vip: 2, online: true } });

    await b.close();
    const off = await agent.next('buyer_status');
    expect(off).toMatchObject({ sessionId, online: false });
    expect(typeof off.since).toBe('number');
    const back = await buyer('ps-buyer', { vip: 2, name: '小王' });
    expect(back.sessionId).toBe(sessionId);
    expect(await agent.next('buyer_status', (f) => f.online === true)).toMatchObject({ sessionId, online: true });
    // Assigned, so never abandoned while the buyer is away.
    await back.b.close();
    await agent.next('buyer_status', (f) => f.online === false);
    await sleep(2_000);
    expect((await g.gateway.deps.store.getSession('shop-1', sessionId))?.state).toBe('assigned');
    await agent.close();
  });

  it('passes an offline queued buyer over for an online one and closes it as abandoned after abandonMs', async () => {
    const gone = await buyer('ab-gone');
    gone.b.send({ type: 'message', clientMsgId: 'm1', text: '能便宜点吗' });
    const role = String((await gone.b.next('queue')).role);
    await gone.b.close();
    const here = await buyer('ab-here');
    here.b.send({ type: 'message', clientMsgId: 'm1', text: '能便宜点吗' });
    await here.b.next('queue');

    const waiting = await (await fetch(`${g.http}/metrics`)).text();
    expect(waiting).toMatch(new RegExp(`peakdesk_queue_waiting\\{shop="shop-1",role="${role}",buyer="offline"\\} 1`));
    expect(waiting).toMatch(new RegExp(`peakdesk_queue_waiting\\{shop="shop-1",role="${role}",buyer="online"\\} 1`));
    const agent = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'ab-agent', kind: 'agent' }));
    await agent.next('welcome');
    agent.send({ type: 'ready', roles: [role], capacity: 1 });
    expect((await agent.next('offer')).sessionId).toBe(here.sessionId);

    await until(async () => (await g.gateway.deps.store.getSession('shop-1', gone.sessionId))?.state === 'closed', 5_000, 'abandoned');
    expect((await g.gateway.deps.store.getSession('shop-1', gone.sessionId))?.closedReason).toBe('abandoned');
    expect(await g.gateway.deps.store.queueLength('shop-1', role)).toBe(0);
    const metrics = await (await fetch(`${g.http}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`peakdesk_sessions_abandoned_total\\{shop="shop-1",role="${role}"\\} 1`));
    await Promise.all([agent.close(), here.b.close()]);
  });
});
