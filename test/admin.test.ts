/**
 * The ops HTTP API over real Redis: every endpoint with good, bad and unauthorised input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { execFile } from 'node:child_process';
import { startGateway, TEST_SECRET, type RunningGateway } from './support/gateway.ts';
import { TestClient } from './support/client.ts';

let redis: RedisHandle;
let g: RunningGateway;
let admin: string;
let platform: string;
const clients: TestClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  g = await startGateway({ redisUrl: redis.url });
  admin = await g.token({ sub: 'ops-1', kind: 'admin' });
  platform = await g.token({ sub: 'platform-ops', kind: 'admin', shop: 'hq', scope: 'platform' });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await g?.stop();
  await redis?.stop();
});

async function call(
  method: string,
  path: string,
  opts: { token?: string | null; body?: unknown; raw?: string; type?: string | null; headers?: Record<string, string> } = {},
) {
  const token = opts.token === undefined ? admin : opts.token;
  const hasBody = opts.body !== undefined || opts.raw !== undefined;
  const type = opts.type === undefined ? (hasBody ? 'application/json' : null) : opts.type;
  const res = await fetch(`${g.http}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(type ? { 'content-type': type } : {}),
      ...opts.headers,
    },
    ...(hasBody ? { body: opts.raw ?? JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), etag: res.headers.get('etag'), body: text ? JSON.parse(text) : undefined };
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
  ['PATCH', '/v1/admin/config', {}],
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
      expect(asBuyer.body.code).toBe('forbidden');
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
    const all = (await call('GET', '/v1/admin/queues?shop=*', { token: platform })).body.queues;
    expect(all.filter((q: any) => q.shop === 'shop-1')).toHaveLength(4);
    expect((await call('GET', '/v1/admin/queues?shop=other', { token: platform })).body.queues.every((q: any) => q.depth === 0)).toBe(true);
    const bad = await call('GET', `/v1/admin/queues?shop=${'x'.repeat(65)}`);
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('bad_request');
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: 'querystring.shop' })]);
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
    expect((await call('GET', `/v1/admin/sessions/${sessionId}?shop=other-shop`, { token: platform })).status).toBe(404);
    expect((await call('GET', `/v1/admin/sessions/${sessionId}?shop=shop-1`, { token: platform })).status).toBe(200);
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
    expect(missing.body.errors).toEqual([expect.objectContaining({ path: 'body.toRole' })]);
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
    expect(again.body.code).toBe('bad_state');
    expect((await call('POST', '/v1/admin/sessions/no-such/close', { body: {} })).status).toBe(404);
    expect((await call('POST', `/v1/admin/sessions/${sessionId}/close`, { body: { reason: 42 } })).status).toBe(400);
  });

  it('serves an OpenAPI document describing the admin routes, their bodies and problem+json errors', async () => {
    const res = await fetch(`${g.http}/docs/json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, any>> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const [method, path] of ENDPOINTS) {
      const templ = path.replace('/a1/', '/{agentId}/').replace('/s1', '/{sessionId}');
      const op = doc.paths[templ]?.[method.toLowerCase()];
      expect(op, `${method} ${templ}`).toBeDefined();
      for (const status of ['400', '401', '403', '503']) {
        const problem = op.responses[status]?.content?.['application/problem+json']?.schema;
        expect(problem, `${method} ${templ} ${status}`).toBeDefined();
        expect(problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'code']));
        expect(problem.properties.errors.items.properties).toHaveProperty('path');
        expect(problem.properties.code.enum).toEqual(expect.arrayContaining(['bad_request', 'not_found', 'conflict', 'precondition_failed', 'unavailable']));
      }
    }
    const put = doc.paths['/v1/admin/config']!.put;
    expect(put.requestBody.content['application/json'].schema.type).toBe('object');
    expect(put.parameters.find((p: any) => p.name === 'if-match' && p.in === 'header')).toBeDefined();
    expect(put.responses['412'].content['application/problem+json']).toBeDefined();
    expect(put.responses['428'].content['application/problem+json']).toBeDefined();
    const patch = doc.paths['/v1/admin/config']!.patch;
    expect(Object.keys(patch.requestBody.content)).toEqual(['application/merge-patch+json']);
    const transfer = doc.paths['/v1/admin/sessions/{sessionId}/transfer']!.post;
    expect(transfer.requestBody.content['application/json'].schema.required).toEqual(['toRole']);
  });
});

describe('admin tokens act on their own shop only', () => {
  it('refuses another shop and `*` with 403 unless the token has scope "platform"', async () => {
    const { sessionId } = await queuedBuyer('scoped', '在吗');
    const other = await g.token({ sub: 'ops-2', kind: 'admin', shop: 'shop-2' });
    const odd = await g.token({ sub: 'ops-3', kind: 'admin', shop: 'shop-2', scope: 'galaxy' });
    const attempts: [string, string, unknown?][] = [
      ['GET', '/v1/admin/queues?shop=shop-1'],
      ['GET', '/v1/admin/queues?shop=*'],
      ['GET', '/v1/admin/agents?shop=shop-1'],
      ['POST', '/v1/admin/agents/a1/away?shop=shop-1'],
      ['GET', `/v1/admin/sessions/${sessionId}?shop=shop-1`],
      ['POST', `/v1/admin/sessions/${sessionId}/transfer?shop=shop-1`, { toRole: 'after-sale' }],
      ['POST', `/v1/admin/sessions/${sessionId}/close?shop=shop-1`, {}],
    ];
    for (const token of [other, odd]) {
      for (const [method, path, body] of attempts) {
        const r = await call(method, path, { token, body });
        expect(r.status, `${method} ${path}`).toBe(403);
        expect(r.body).toMatchObject({ code: 'forbidden', status: 403 });
      }
      // Its own shop is fine; the session is not there.
      expect((await call('GET', `/v1/admin/sessions/${sessionId}`, { token })).status).toBe(404);
      expect((await call('GET', '/v1/admin/queues', { token })).body.queues.every((q: any) => q.shop === 'shop-2')).toBe(true);
    }
    // Nothing happened to the session.
    expect((await call('GET', `/v1/admin/sessions/${sessionId}`)).body.session).toMatchObject({ state: 'queued', role: 'pre-sale' });
    // The platform may act anywhere.
    expect((await call('GET', `/v1/admin/sessions/${sessionId}?shop=shop-1`, { token: platform })).status).toBe(200);
    expect((await call('GET', '/v1/admin/agents?shop=shop-1', { token: platform })).status).toBe(200);
    const closed = await call('POST', `/v1/admin/sessions/${sessionId}/close?shop=shop-1`, { token: platform, body: {} });
    expect(closed.status).toBe(200);
    // `*` lists queues only.
    expect((await call('GET', '/v1/admin/agents?shop=*', { token: platform })).status).toBe(400);
  });
});

describe('npm run token', () => {
  it('mints platform admin tokens the admin API takes for every shop, and refuses other scopes', async () => {
    // Asynchronously: a blocked event loop would keep the HTTP client from noticing idle connections the server closed.
    const run = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', 'src/cli/token.ts', ...args], { env: { ...process.env, PEAKDESK_AUTH_SECRET: TEST_SECRET } }, (err, stdout, stderr) =>
          resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const [minted, shopOnly, refused] = await Promise.all([run('admin', 'cli-ops', 'hq', 'platform'), run('admin', 'cli-ops', 'hq'), run('admin', 'cli-ops', 'hq', 'galaxy')]);
    expect(minted.status, minted.stderr).toBe(0);
    const token = minted.stdout.trim();
    expect(await g.gateway.auth.verify(token)).toMatchObject({ kind: 'admin', sub: 'cli-ops', shop: 'hq', scope: 'platform' });
    expect((await call('GET', '/v1/admin/queues?shop=*', { token })).status).toBe(200);
    expect((await call('GET', '/v1/admin/queues?shop=*', { token: shopOnly.stdout.trim() })).status).toBe(403);
    expect(refused.status).toBe(2);
  });
});

describe('admin errors are problem+json', () => {
  it('has type, title, status, detail and code; 401 says Bearer; unknown paths are 404', async () => {
    const none = await fetch(`${g.http}/v1/admin/queues`);
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const body = (await none.json()) as Record<string, unknown>;
    expect(body).toEqual({ type: 'urn:peakdesk:problem:unauthorized', title: expect.any(String), status: 401, detail: 'missing token', code: 'unauthorized' });
    const missing = await call('GET', '/v1/admin/no-such-thing');
    expect(missing).toMatchObject({ status: 404, type: expect.stringMatching(/^application\/problem\+json/), body: { code: 'not_found', status: 404 } });
    const bad = await call('POST', '/v1/admin/sessions/s1/transfer', { body: { toRole: 5, extra: true } });
    expect(bad.type).toMatch(/^application\/problem\+json/);
    expect(bad.body).toMatchObject({ status: 400, code: 'bad_request', title: expect.any(String), detail: expect.any(String) });
    expect(bad.body.errors).toEqual(
      expect.arrayContaining([
        { path: 'body.toRole', message: expect.any(String) },
        { path: 'body', message: expect.stringContaining('extra') },
      ]),
    );
  });
});

describe('admin config: ETag, If-Match, merge patch, media types', () => {
  let cg: RunningGateway;
  let ops: string;
  const req = async (method: string, opts: Parameters<typeof call>[2] = {}) => {
    const res = await fetch(`${cg.http}/v1/admin/config`, {
      method,
      headers: {
        authorization: `Bearer ${opts.token ?? ops}`,
        ...(opts.type !== null && (opts.body !== undefined || opts.raw !== undefined) ? { 'content-type': opts.type ?? 'application/json' } : {}),
        ...opts.headers,
      },
      ...(opts.body !== undefined || opts.raw !== undefined ? { body: opts.raw ?? JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type'), etag: res.headers.get('etag'), body: text ? JSON.parse(text) : undefined };
  };
  beforeAll(async () => {
    cg = await startGateway({ redisUrl: redis.url, config: { shops: { 'shop-2': { defaultRole: 'after-sale' } } } });
    ops = await cg.token({ sub: 'cfg-ops', kind: 'admin', shop: 'hq', scope: 'platform' });
  });
  afterAll(async () => {
    await cg?.stop();
  });

  it('GET has the version as ETag; PUT without If-Match is 428 and changes nothing (PUT {} no longer wipes the config)', async () => {
    const got = await req('GET');
    expect(got.status).toBe(200);
    expect(got.etag).toBe(`"${got.body.version}"`);
    for (const body of [{}, got.body.config]) {
      const r = await req('PUT', { body });
      expect(r.status).toBe(428);
      expect(r.body).toMatchObject({ code: 'precondition_failed', status: 428 });
    }
    const after = await req('GET');
    expect(after.body.version).toBe(got.body.version);
    expect(after.body.config.routing).toEqual(got.body.config.routing);
  });

  it('PUT with the ETag applies; the old ETag is then stale (412, current ETag given, nothing changed)', async () => {
    const got = await req('GET');
    const next = structuredClone(got.body.config);
    next.routing.offerTimeoutMs = 21_000;
    const put = await req('PUT', { body: next, headers: { 'if-match': got.etag! } });
    expect(put.status).toBe(200);
    expect(put.body.config.routing.offerTimeoutMs).toBe(21_000);
    expect(put.etag).toBe(`"${put.body.version}"`);
    expect(put.etag).not.toBe(got.etag);

    next.routing.offerTimeoutMs = 22_000;
    const stale = await req('PUT', { body: next, headers: { 'if-match': got.etag! } });
    expect(stale.status).toBe(412);
    expect(stale.body.code).toBe('precondition_failed');
    expect(stale.etag).toBe(put.etag);
    expect((await req('GET')).body.config.routing.offerTimeoutMs).toBe(21_000);
    // An invalid document with the right ETag: 400 with every problem, nothing changed.
    const bad = structuredClone(put.body.config);
    bad.routing.offerTimeoutMs = 5;
    bad.bots.limits.perMinute = 'many';
    const invalid = await req('PUT', { body: bad, headers: { 'if-match': put.etag! } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errors.map((e: any) => e.path)).toEqual(expect.arrayContaining(['routing.offerTimeoutMs', 'bots.limits.perMinute']));
    expect((await req('GET')).etag).toBe(put.etag);
  });

  it('PATCH (merge patch) changes only what it names; null removes; same If-Match rule', async () => {
    const got = await req('GET');
    const patch = { routing: { previewEvents: 7 }, shops: { 'shop-2': null } };
    expect((await req('PATCH', { body: patch, type: 'application/merge-patch+json' })).status).toBe(428);
    expect((await req('PATCH', { body: patch, type: 'application/merge-patch+json', headers: { 'if-match': '"nope"' } })).status).toBe(412);
    const r = await req('PATCH', { body: patch, type: 'application/merge-patch+json', headers: { 'if-match': got.etag! } });
    expect(r.status).toBe(200);
    expect(r.body.config.routing).toEqual({ ...got.body.config.routing, previewEvents: 7 });
    expect(r.body.config.shops).toEqual({});
    expect(r.body.config.intent).toEqual(got.body.config.intent);
    expect(cg.gateway.deps.config().routing.previewEvents).toBe(7);
  });

  it('a wrong content type is 415, a body that is not JSON 400, a huge one 413 — never 500', async () => {
    const { etag, body } = await req('GET');
    const ifMatch = { 'if-match': etag! };
    const doc = JSON.stringify(body.config);
    const cases: [string, Parameters<typeof call>[2], number, string][] = [
      ['PUT', { raw: doc, type: 'text/plain', headers: ifMatch }, 415, 'bad_request'],
      ['PUT', { raw: doc, type: null, headers: ifMatch }, 415, 'bad_request'],
      ['PUT', { raw: doc, type: 'application/merge-patch+json', headers: ifMatch }, 415, 'bad_request'],
      ['PATCH', { raw: '{}', type: 'application/json', headers: ifMatch }, 415, 'bad_request'],
      ['PUT', { raw: '{"routing": ', headers: ifMatch }, 400, 'bad_json'],
      ['PATCH', { raw: 'not json', type: 'application/merge-patch+json', headers: ifMatch }, 400, 'bad_json'],
      ['PUT', { raw: '[1, 2]', headers: ifMatch }, 400, 'bad_request'],
      ['PUT', { raw: JSON.stringify({ pad: 'x'.repeat(1_100_000) }), headers: ifMatch }, 413, 'too_large'],
    ];
    for (const [method, opts, status, code] of cases) {
      const r = await req(method, opts);
      expect(r.status, `${method} ${opts?.type} ${opts?.raw?.slice(0, 20)}`).toBe(status);
      expect(r.type).toMatch(/^application\/problem\+json/);
      expect(r.body.code).toBe(code);
    }
    expect((await req('GET')).etag).toBe(etag);
  });

  it("a shop's admin sees and changes only its own shops.<id>; the rest of the document is the platform's", async () => {
    const shopAdmin = await cg.token({ sub: 'shop-3-ops', kind: 'admin', shop: 'shop-3' });
    const seed = await req('GET');
    const seeded = await req('PATCH', {
      body: { shops: { 'shop-4': { defaultRole: 'after-sale' } } },
      type: 'application/merge-patch+json',
      headers: { 'if-match': seed.etag! },
    });
    expect(seeded.status).toBe(200);

    const view = await req('GET', { token: shopAdmin });
    expect(view.body.config.shops).toBeUndefined(); // shop-4's override is not its business
    expect(view.etag).toBe(seeded.etag);
    // Changing global routing: 403, nothing changed.
    const global = structuredClone(view.body.config);
    global.routing.offerTimeoutMs = 30_000;
    expect((await req('PUT', { token: shopAdmin, body: global, headers: { 'if-match': view.etag! } })).status).toBe(403);
    const patchGlobal = await req('PATCH', { token: shopAdmin, body: { routing: { offerTimeoutMs: 30_000 } }, type: 'application/merge-patch+json', headers: { 'if-match': view.etag! } });
    expect(patchGlobal.status).toBe(403);
    expect(patchGlobal.body.code).toBe('forbidden');
    const patchOther = await req('PATCH', { token: shopAdmin, body: { shops: { 'shop-4': null } }, type: 'application/merge-patch+json', headers: { 'if-match': view.etag! } });
    expect(patchOther.status).toBe(403);
    expect((await req('GET')).etag).toBe(seeded.etag);

    // Its own override: PUT of its view with shops.shop-3 added keeps shop-4's.
    const own = structuredClone(view.body.config);
    own.shops = { 'shop-3': { defaultRole: 'bargaining' } };
    const put = await req('PUT', { token: shopAdmin, body: own, headers: { 'if-match': view.etag! } });
    expect(put.status).toBe(200);
    expect(put.body.config.shops).toEqual({ 'shop-3': { defaultRole: 'bargaining' } });
    const all = (await req('GET')).body.config.shops;
    expect(all).toEqual({ 'shop-3': { defaultRole: 'bargaining' }, 'shop-4': { defaultRole: 'after-sale' } });
    const patched = await req('PATCH', { token: shopAdmin, body: { shops: { 'shop-3': null } }, type: 'application/merge-patch+json', headers: { 'if-match': put.etag! } });
    expect(patched.status).toBe(200);
    expect((await req('GET')).body.config.shops).toEqual({ 'shop-4': { defaultRole: 'after-sale' } });
  });
});
