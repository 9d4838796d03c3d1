/**
 * The ops HTTP API over real Redis: every endpoint with good, bad and unauthorised input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient } from './support/client.ts';

let redis: RedisHandle;
let g: RunningGateway;
let admin: string;
const clients: TestClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  g = await startGateway({ redisUrl: redis.url });
  admin = await g.token({ sub: 'ops-1', kind: 'admin' });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await g?.stop();
  await redis?.stop();
});

async function call(method: string, path: string, opts: { token?: string | null; body?: unknown } = {}) {
  const token = opts.token === undefined ? admin : opts.token;
  const res = await fetch(`${g.http}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function queuedBuyer(id: string, text: string) {
  const c = await TestClient.connect(g.url, 'buyer', await g.token({ sub: id, kind: 'buyer' }));
  clients.push(c);
  const { sessionId } = await c.next('welcome');
  c.send({ type: 'message', clientMsgId: '1', text });
  await c.next('queue');
  return { c, sessionId: sessionId as string };
}

const ENDPOINTS: [string, string, unknown?][] = [
  ['GET', '/v1/admin/config'],
  ['PUT', '/v1/admin/config', {}],
  ['GET', '/v1/admin/queues'],
  ['GET', '/v1/admin/agents'],
  ['POST', '/v1/admin/agents/a1/away'],
  ['GET', '/v1/admin/sessions/s1'],
  ['POST', '/v1/admin/sessions/s1/transfer', { toRole: 'after-sale' }],
  ['POST', '/v1/admin/sessions/s1/close', {}],
];

describe('admin API', () => {
  it('refuses every endpoint without a valid admin token: 401 without or with a bad one, 403 for other kinds', async () => {
    const buyer = await g.token({ sub: 'b', kind: 'buyer' });
    const agent = await g.token({ sub: 'a', kind: 'agent' });
    for (const [method, path, body] of ENDPOINTS) {
      expect((await call(method, path, { token: null, body })).status, `${method} ${path}`).toBe(401);
      expect((await call(method, path, { token: 'not.a.jwt', body })).status, `${method} ${path}`).toBe(401);
      expect((await call(method, path, { token: `${admin}x`, body })).status, `${method} ${path}`).toBe(401);
      const asBuyer = await call(method, path, { token: buyer, body });
      expect(asBuyer.status, `${method} ${path}`).toBe(403);
      expect(asBuyer.body.error).toBe('forbidden');
      expect((await call(method, path, { token: agent, body })).status, `${method} ${path}`).toBe(403);
    }
  });

  it('lists queues with depth and oldest wait per shop and role', async () => {
    const before = (await call('GET', '/v1/admin/queues')).body.queues;
    expect(before.map((q: any) => q.role)).toEqual(['pre-sale', 'order-edit', 'after-sale', 'bargaining']);
    await queuedBuyer('q1', '我要退货');
    await queuedBuyer('q2', '快递到哪了');
    const { status, body } = await call('GET', '/v1/admin/queues');
    expect(status).toBe(200);
    const after = body.queues.find((q: any) => q.role === 'after-sale');
    expect(after).toMatchObject({ shop: 'shop-1', depth: 2 });
    expect(after.oldestWaitSeconds).toBeGreaterThanOrEqual(0);
    expect(body.queues.find((q: any) => q.role === 'bargaining')).toMatchObject({ depth: 0, oldestWaitSeconds: null });
    const all = (await call('GET', '/v1/admin/queues?shop=*')).body.queues;
    expect(all.filter((q: any) => q.shop === 'shop-1')).toHaveLength(4);
    expect((await call('GET', '/v1/admin/queues?shop=other')).body.queues.every((q: any) => q.depth === 0)).toBe(true);
    const bad = await call('GET', `/v1/admin/queues?shop=${'x'.repeat(65)}`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('bad_request');
    expect(bad.body.issues.length).toBeGreaterThan(0);
  });

  it('lists agents with roles, capacity, load and status, and sets one away', async () => {
    const a = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'adm-agent', kind: 'agent' }));
    clients.push(a);
    await a.next('welcome');
    a.send({ type: 'ready', roles: ['bargaining'], capacity: 3 });
    const { sessionId } = await queuedBuyer('haggler', '能便宜点吗');
    await a.next('offer', (f) => f.sessionId === sessionId);

    const listed = (await call('GET', '/v1/admin/agents')).body.agents.find((x: any) => x.id === 'adm-agent');
    expect(listed).toMatchObject({ status: 'ready', roles: ['bargaining'], capacity: 3, load: 1, offers: [sessionId] });

    const away = await call('POST', '/v1/admin/agents/adm-agent/away');
    expect(away.status).toBe(200);
    expect(away.body.agent).toMatchObject({ id: 'adm-agent', status: 'away', load: 1 });
    expect(await a.next('status')).toMatchObject({ status: 'away', reason: 'ops' });
    expect((await call('POST', '/v1/admin/agents/nobody/away')).status).toBe(404);
    expect((await call('POST', `/v1/admin/agents/${'y'.repeat(65)}/away`)).status).toBe(400);
  });

  it('reads a session with its transcript; unknown ids are 404', async () => {
    const { sessionId } = await queuedBuyer('reader', '这款有优惠吗');
    const { status, body } = await call('GET', `/v1/admin/sessions/${sessionId}`);
    expect(status).toBe(200);
    expect(body.session).toMatchObject({ id: sessionId, buyerId: 'reader', state: 'queued', role: 'pre-sale' });
    expect(body.transcript[0]).toMatchObject({ type: 'message', seq: 1, from: 'buyer', text: '这款有优惠吗' });
    expect(body.transcript.some((e: any) => e.from === 'bot')).toBe(true);
    expect((await call('GET', '/v1/admin/sessions/no-such-session')).status).toBe(404);
    expect((await call('GET', `/v1/admin/sessions/${sessionId}?shop=other-shop`)).status).toBe(404);
  });

  it('force-transfers a waiting session; bad input is 400 with issues, unknown ids 404', async () => {
    const { c, sessionId } = await queuedBuyer('moved', '这款有优惠吗');
    const r = await call('POST', `/v1/admin/sessions/${sessionId}/transfer`, { body: { toRole: 'after-sale', note: 'ops: refund case' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ sessionId, fromRole: 'pre-sale', toRole: 'after-sale' });
    expect(await c.next('handover')).toMatchObject({ fromRole: 'pre-sale', toRole: 'after-sale' });
    const s = (await call('GET', `/v1/admin/sessions/${sessionId}`)).body.session;
    expect(s).toMatchObject({ state: 'queued', role: 'after-sale', note: 'ops: refund case', roleHistory: ['pre-sale', 'after-sale'] });
    expect(s.handovers[0]).toMatchObject({ agentId: 'ops-1' });

    const missing = await call('POST', `/v1/admin/sessions/${sessionId}/transfer`, { body: {} });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body.issues)).toContain('toRole');
    expect((await call('POST', `/v1/admin/sessions/${sessionId}/transfer`, { body: { toRole: 'nowhere' } })).status).toBe(400);
    expect((await call('POST', `/v1/admin/sessions/${sessionId}/transfer`, { body: { toRole: 'after-sale', extra: 1 } })).status).toBe(400);
    expect((await call('POST', '/v1/admin/sessions/no-such/transfer', { body: { toRole: 'after-sale' } })).status).toBe(404);
  });

  it('closes a session (goodbye, then closed); closing it again is 409', async () => {
    const { c, sessionId } = await queuedBuyer('closed-by-ops', '在吗');
    const r = await call('POST', `/v1/admin/sessions/${sessionId}/close`, { body: { reason: 'spam wave' } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ sessionId, state: 'closed', reason: 'spam wave' });
    await c.next('message', (m) => m.kind === 'goodbye');
    expect(await c.next('closed')).toMatchObject({ sessionId, reason: 'spam wave' });
    const again = await call('POST', `/v1/admin/sessions/${sessionId}/close`, { body: {} });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('bad_state');
    expect((await call('POST', '/v1/admin/sessions/no-such/close', { body: {} })).status).toBe(404);
    expect((await call('POST', `/v1/admin/sessions/${sessionId}/close`, { body: { reason: 42 } })).status).toBe(400);
  });

  it('serves an OpenAPI document describing the admin routes', async () => {
    const res = await fetch(`${g.http}/docs/json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const [method, path] of ENDPOINTS) {
      const templ = path.replace('/a1/', '/{agentId}/').replace('/s1', '/{sessionId}');
      expect(doc.paths[templ]?.[method.toLowerCase()], `${method} ${templ}`).toBeDefined();
    }
  });
});
