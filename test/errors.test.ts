import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway, TEST_SECRET, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';

let redis: RedisHandle;
let g: RunningGateway;

beforeAll(async () => {
  redis = await startRedis();
  g = await startGateway({
    redisUrl: redis.url,
    config: { server: { maxFrameBytes: 1024, errorLimit: 50 }, routing: { offerTimeoutMs: 60_000 } },
  });
});
afterAll(async () => {
  await g?.stop();
  await redis?.stop();
});

/** Status of a refused upgrade, or 101 when it was accepted. */
async function upgradeStatus(path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${g.url}${path}`, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', reject);
  });
}

async function signed(claims: Record<string, unknown>, secret = TEST_SECRET, exp?: number): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' });
  if (exp !== undefined) jwt.setExpirationTime(exp);
  return jwt.sign(new TextEncoder().encode(secret));
}

describe('auth on the WebSocket endpoints', () => {
  it('refuses missing, invalid, expired and wrong-kind tokens with 401', async () => {
    const buyer = { sub: 'b', shop: 's', kind: 'buyer' };
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    expect(await upgradeStatus('/v1/buyer')).toBe(401);
    expect(await upgradeStatus('/v1/buyer', bearer('not-a-jwt'))).toBe(401);
    expect(await upgradeStatus('/v1/buyer', bearer(await signed(buyer, 'another-secret-0123456789')))).toBe(401);
    expect(await upgradeStatus('/v1/buyer', bearer(await signed(buyer, TEST_SECRET, Math.floor(Date.now() / 1000) - 60)))).toBe(401);
    expect(await upgradeStatus('/v1/buyer', bearer(await signed({ sub: 'b', kind: 'buyer' })))).toBe(401); // no shop
    expect(await upgradeStatus('/v1/buyer', bearer(await signed({ ...buyer, sub: 'x'.repeat(65) })))).toBe(401);
    // A token of one kind is refused on the other kind's endpoint.
    expect(await upgradeStatus('/v1/buyer', bearer(await signed({ ...buyer, kind: 'agent' })))).toBe(401);
    expect(await upgradeStatus('/v1/agent', bearer(await signed(buyer)))).toBe(401);
    expect(await upgradeStatus('/v1/buyer', bearer(await signed({ ...buyer, kind: 'admin' })))).toBe(401);
    // The good ones: header, and query parameter for browsers.
    expect(await upgradeStatus('/v1/buyer', bearer(await signed(buyer)))).toBe(101);
    expect(await upgradeStatus(`/v1/buyer?token=${await signed(buyer)}`)).toBe(101);
    expect(await upgradeStatus('/v1/agent', bearer(await signed({ ...buyer, kind: 'agent' })))).toBe(101);
  });
});

describe('every error code a client can cause', () => {
  it('answers malformed frames without closing the connection', async () => {
    const b = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'err-b', kind: 'buyer' }));
    await b.next('welcome');
    b.send('{not json');
    expect(await b.next('error')).toMatchObject({ code: 'bad_json' });
    b.send({ type: 'message', text: 'no id' });
    const missing = await b.next('error');
    expect(missing.code).toBe('bad_frame');
    expect(missing.message).toContain('clientMsgId');
    b.send({ type: 'teleport' });
    expect(await b.next('error')).toMatchObject({ code: 'bad_frame' });
    b.send({ type: 'message', clientMsgId: 'x', text: '' });
    expect((await b.next('error')).message).toContain('text');
    b.send({ type: 'rate', score: 9 });
    expect((await b.next('error')).message).toContain('score');
    b.send({ type: 'message', clientMsgId: 'big', text: 'x'.repeat(1500) });
    expect(await b.next('error')).toMatchObject({ code: 'too_large' });
    // Out of state: rating a session nobody closed.
    b.send({ type: 'rate', score: 5 });
    expect(await b.next('error')).toMatchObject({ code: 'bad_state' });
    // Still healthy.
    b.send({ type: 'ping' });
    await b.next('pong');
    expect(b.violations).toEqual([]);
    await b.close();
  });

  it('answers out-of-state agent frames with unknown_session, not_assigned, bad_state and forbidden', async () => {
    const a = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'err-a', kind: 'agent', roles: ['after-sale'] }));
    await a.next('welcome');
    a.send({ type: 'ready', roles: ['pre-sale'], capacity: 1 });
    expect(await a.next('error')).toMatchObject({ code: 'forbidden' });
    a.send({ type: 'ready', roles: ['no-such-role'], capacity: 1 });
    expect(await a.next('error')).toMatchObject({ code: 'bad_frame' });
    a.send({ type: 'ready', roles: ['after-sale'], capacity: 0 });
    expect((await a.next('error')).message).toContain('capacity');
    a.send({ type: 'accept', sessionId: 'no-such-session' });
    expect(await a.next('error')).toMatchObject({ code: 'unknown_session', ref: 'no-such-session' });

    // A session waiting in the queue, not offered to this agent.
    const b = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'err-b2', kind: 'buyer' }));
    const { sessionId } = await b.next('welcome');
    b.send({ type: 'message', clientMsgId: '1', text: 'hello' });
    await b.next('ack');
    a.send({ type: 'accept', sessionId });
    expect(await a.next('error')).toMatchObject({ code: 'bad_state' });
    a.send({ type: 'decline', sessionId });
    expect(await a.next('error')).toMatchObject({ code: 'bad_state' });
    a.send({ type: 'message', sessionId, clientMsgId: 'm', text: 'hi' });
    expect(await a.next('error')).toMatchObject({ code: 'not_assigned', ref: 'm' });
    a.send({ type: 'close', sessionId });
    expect(await a.next('error')).toMatchObject({ code: 'not_assigned' });
    a.send({ type: 'transfer', sessionId, toRole: 'after-sale' });
    expect(await a.next('error')).toMatchObject({ code: 'not_assigned' });
    a.send({ type: 'transfer', sessionId, toRole: 'nowhere' });
    expect(await a.next('error')).toMatchObject({ code: 'bad_frame' });
    a.send({ type: 'resume', sessionId, lastSeq: 0 });
    expect(await a.next('error')).toMatchObject({ code: 'not_assigned' });
    a.send({ type: 'block', sessionId, reason: 'spam' });
    expect(await a.next('error')).toMatchObject({ code: 'not_assigned' });
    expect(a.violations).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });

  it('a blocked buyer gets `blocked` on its next connection', async () => {
    const b = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'abuser', kind: 'buyer', shop: 'blk' }));
    const { sessionId } = await b.next('welcome');
    b.send({ type: 'message', clientMsgId: '1', text: '骂人的话' });
    const a = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'blk-a', kind: 'agent', shop: 'blk' }));
    await a.next('welcome');
    a.send({ type: 'ready', roles: ['pre-sale'], capacity: 1 });
    await a.next('offer');
    a.send({ type: 'accept', sessionId });
    await a.next('assigned');
    a.send({ type: 'block', sessionId, reason: 'abuse' });
    expect(await b.next('closed')).toMatchObject({ sessionId, reason: 'blocked' });
    await b.close();
    const again = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'abuser', kind: 'buyer', shop: 'blk' }));
    expect(await again.next('error')).toMatchObject({ code: 'blocked' });
    expect((await again.closed).code).toBe(1008);
    // The transcript, abusive line included, is kept for review.
    const events = await g.gateway.deps.store.readEvents('blk', sessionId, 0);
    expect(events[0]?.text).toBe('骂人的话');
    await a.close();
  });
});

describe('abuse limits', () => {
  it('rate-limits a flooding connection and closes one that keeps erring with 1008', async () => {
    const strict = await startGateway({
      redisUrl: redis.url,
      config: { server: { rateLimit: { buyer: { perSecond: 1, burst: 3 } }, errorLimit: 4, errorWindowMs: 10_000 } },
    });
    try {
      const b = await TestClient.connect(strict.url, 'buyer', await strict.token({ sub: 'flood', kind: 'buyer' }));
      await b.next('welcome');
      for (let i = 0; i < 4; i++) b.send({ type: 'ping' });
      for (let i = 0; i < 3; i++) await b.next('pong');
      expect(await b.next('error')).toMatchObject({ code: 'rate_limited' });
      for (let i = 0; i < 5; i++) b.send('garbage');
      expect((await b.closed).code).toBe(1008);
    } finally {
      await strict.stop();
    }
  });
});

describe('store outage', () => {
  it('answers `unavailable` and /readyz 503 while Redis is down, and recovers', async () => {
    const own = await startRedis();
    const gw = await startGateway({ redisUrl: own.url });
    try {
      const b = await TestClient.connect(gw.url, 'buyer', await gw.token({ sub: 'outage', kind: 'buyer' }));
      await b.next('welcome');
      expect((await fetch(`${gw.http}/readyz`)).status).toBe(200);
      expect(await (await fetch(`${gw.http}/healthz`)).json()).toEqual({ status: 'ok' });
      await own.kill();
      b.send({ type: 'message', clientMsgId: 'during', text: 'anyone?' });
      expect(await b.next('error', () => true, 10_000)).toMatchObject({ code: 'unavailable', ref: 'during' });
      expect((await fetch(`${gw.http}/readyz`)).status).toBe(503);
      expect((await fetch(`${gw.http}/healthz`)).status).toBe(200);
      b.send({ type: 'ping' });
      await b.next('pong');
      // Redis comes back (empty: this one keeps nothing on disk); the same socket carries on.
      await own.restart();
      await until(async () => (await fetch(`${gw.http}/readyz`)).status === 200, 10_000, 'ready again');
      b.send({ type: 'message', clientMsgId: 'after', text: 'back?' });
      expect(await b.next('ack', () => true, 10_000)).toMatchObject({ clientMsgId: 'after', seq: 1 });
    } finally {
      await gw.stop();
      await own.stop();
    }
  }, 30_000);
});
