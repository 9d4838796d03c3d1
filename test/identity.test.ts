/**
 * Identity edge cases at the gateway: ids that could break key names are refused at the
 * upgrade, and an agent's token decides the roles it serves on every connect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway, TEST_SECRET, type RunningGateway } from './support/gateway.ts';
import { TestClient } from './support/client.ts';

let redis: RedisHandle;
let g: RunningGateway;

beforeAll(async () => {
  redis = await startRedis();
  g = await startGateway({ redisUrl: redis.url, config: { routing: { offerTimeoutMs: 60_000, agentGraceMs: 60_000 } } });
});
afterAll(async () => {
  await g?.stop();
  await redis?.stop();
});

async function upgradeStatus(path: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${g.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

const signed = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(TEST_SECRET));

describe('ids at the auth boundary', () => {
  it('refuses ids with separators or spaces with 401 naming the claim, and accepts safe ones', async () => {
    for (const sub of ['x:o', 'a,b', 'a b', 'a{b}', 'tab\there', '']) {
      for (const kind of ['buyer', 'agent'] as const) {
        const r = await upgradeStatus(`/v1/${kind}`, await signed({ sub, shop: 'shop-1', kind }));
        expect(r.status, `${kind} ${JSON.stringify(sub)}`).toBe(401);
        expect(r.body).toContain('sub');
      }
    }
    for (const sub of ['buyer_1', 'a.b@c', '买家-7', 'u+1=2']) {
      expect((await upgradeStatus('/v1/buyer', await signed({ sub, shop: 'shop-1', kind: 'buyer' }))).status, sub).toBe(101);
    }
  });

  it('answers the admin API about an agent id that looks like a sub-key with 404, not 500', async () => {
    const agent = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'sub-x', kind: 'agent' }));
    await agent.next('welcome');
    const admin = await g.token({ sub: 'ops', kind: 'admin' });
    for (const id of ['sub-x:o', 'sub-x:s', 'sub-x:c']) {
      const res = await fetch(`${g.http}/v1/admin/agents/${encodeURIComponent(id)}/away`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
      expect(res.status, id).toBe(404);
    }
    await agent.close();
  });
});

describe("the token's roles on every connect", () => {
  it('an agent whose roles claim was narrowed no longer serves the removed role after reconnecting', async () => {
    const wide = await g.token({ sub: 'narrowed', kind: 'agent', roles: ['pre-sale', 'after-sale'] });
    const a1 = await TestClient.connect(g.url, 'agent', wide);
    await a1.next('welcome');
    a1.send({ type: 'ready', roles: ['pre-sale', 'after-sale'], capacity: 3 });
    await new Promise((r) => setTimeout(r, 200));
    await a1.close();
    const narrow = await g.token({ sub: 'narrowed', kind: 'agent', roles: ['pre-sale'] });
    const a2 = await TestClient.connect(g.url, 'agent', narrow);
    await a2.next('welcome');
    const buyer = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'wants-refund', kind: 'buyer' }));
    await buyer.next('welcome');
    buyer.send({ type: 'message', clientMsgId: 'r1', text: '我要退货退款，东西坏了' });
    await buyer.next('queue', (f) => f.role === 'after-sale');
    await new Promise((r) => setTimeout(r, 500));
    expect(a2.all('offer')).toEqual([]);
    const view = await g.gateway.deps.store.getAgent('shop-1', 'narrowed');
    expect(view?.roles).toEqual(['pre-sale']);
    await Promise.all([a2.close(), buyer.close()]);
  });
});

describe("the buyer token's name and vip", () => {
  it('refuses a vip outside 0..9 or not an integer and a name outside 1..64 with 401 naming the claim', async () => {
    for (const [claim, value] of [['vip', 10], ['vip', -1], ['vip', 1.5], ['vip', '3'], ['name', ''], ['name', 'n'.repeat(65)]] as const) {
      const r = await upgradeStatus('/v1/buyer', await signed({ sub: 'vip-bad', shop: 'shop-1', kind: 'buyer', [claim]: value }));
      expect(r.status, `${claim} ${JSON.stringify(value)}`).toBe(401);
      expect(r.body).toContain(claim);
    }
  });

  it('a VIP arriving after three regular buyers is offered first', async () => {
    const shop = 'shop-vip';
    const buyers: TestClient[] = [];
    const sessions: string[] = [];
    for (const [sub, vip] of [['reg-1', 0], ['reg-2', undefined], ['reg-3', 0], ['vip-1', 3]] as const) {
      const token = await signed({ sub, shop, kind: 'buyer', ...(vip !== undefined ? { vip, name: `Buyer ${sub}` } : {}) });
      const b = await TestClient.connect(g.url, 'buyer', token);
      sessions.push(String((await b.next('welcome')).sessionId));
      b.send({ type: 'message', clientMsgId: 'm1', text: '这个有货吗' });
      await b.next('queue');
      buyers.push(b);
    }
    const view = await g.gateway.deps.store.getSession(shop, sessions[3]!);
    expect(view).toMatchObject({ vip: 3, buyerName: 'Buyer vip-1' });
    const agent = await TestClient.connect(g.url, 'agent', await signed({ sub: 'vip-agent', shop, kind: 'agent' }));
    await agent.next('welcome');
    agent.send({ type: 'ready', roles: ['pre-sale'], capacity: 1 });
    const offer = await agent.next('offer');
    expect(offer.sessionId).toBe(sessions[3]);
    await Promise.all([agent.close(), ...buyers.map((b) => b.close())]);
  });
});
