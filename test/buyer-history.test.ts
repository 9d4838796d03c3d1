/**
 * Buyer history (PROTOCOL v1.1): the `history` / `history_transcript` agent frames and
 * GET /v1/admin/buyers/:buyerId/sessions, on real Redis and the embedded engine; and the
 * store's per-buyer index dropping sessions once their retention is over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../src/store/embedded/embedded-store.ts';
import { BUYER_HISTORY_MAX, RedisStore } from '../src/store/redis/redis-store.ts';
import type { Store } from '../src/store/types.ts';
import { buyerHistoryKey, shopPrefix } from '../src/store/redis/keys.ts';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { freshPrefix, startGateway, STORE_TEST_CONFIG, type RunningGateway } from './support/gateway.ts';
import { TestClient } from './support/client.ts';

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

async function buyer(g: RunningGateway, id: string) {
  const c = await TestClient.connect(g.url, 'buyer', await g.token({ sub: id, kind: 'buyer', shop: 'shop-1', name: '小王' }));
  const welcome = await c.next('welcome');
  return { c, sessionId: welcome.sessionId as string };
}

async function agent(g: RunningGateway, id: string) {
  const c = await TestClient.connect(g.url, 'agent', await g.token({ sub: id, kind: 'agent', shop: 'shop-1' }));
  await c.next('welcome');
  c.send({ type: 'ready', roles: ['pre-sale', 'order-edit', 'after-sale', 'bargaining'], capacity: 3 });
  return c;
}

/** The buyer writes, the agent takes the chat; returns the session id. */
async function served(g: RunningGateway, b: TestClient, a: TestClient, sessionId: string, text: string) {
  b.send({ type: 'message', clientMsgId: `m-${sessionId}`, text });
  await b.next('ack', (f) => f.clientMsgId === `m-${sessionId}`);
  await a.next('offer', (f) => f.sessionId === sessionId);
  a.send({ type: 'accept', sessionId });
  await a.next('assigned', (f) => f.sessionId === sessionId);
}

describe.each(['redis', 'memory'] as const)('buyer history (%s store)', (kind) => {
  let g: RunningGateway;
  beforeAll(async () => {
    g = await startGateway({ ...(kind === 'redis' ? { redisUrl: redis.url } : {}), config: STORE_TEST_CONFIG });
  });
  afterAll(async () => {
    await g?.stop();
  });

  it('lists the buyer\'s sessions newest first to the agent holding one, with a transcript on request, and to admins', async () => {
    const buyerId = `hist-b-${kind}`;
    const a = await agent(g, `hist-a-${kind}`);
    const first = await buyer(g, buyerId);
    await served(g, first.c, a, first.sessionId, '这件羽绒服有货吗？');
    a.send({ type: 'message', sessionId: first.sessionId, clientMsgId: 'r1', text: '有的，亲' });
    await a.next('ack', (f) => f.clientMsgId === 'r1');
    a.send({ type: 'close', sessionId: first.sessionId });
    await first.c.next('message', (f) => f.kind === 'rating_invite');
    first.c.send({ type: 'rate', score: 5, comment: '很好' });
    await first.c.next('closed');
    await first.c.close();

    const second = await buyer(g, buyerId);
    expect(second.sessionId).not.toBe(first.sessionId);
    await served(g, second.c, a, second.sessionId, '我想改地址');

    a.send({ type: 'history', sessionId: second.sessionId });
    const h = await a.next('history');
    expect(h).toMatchObject({ sessionId: second.sessionId, buyerId });
    expect(h.sessions.map((s: any) => s.sessionId)).toEqual([second.sessionId, first.sessionId]);
    expect(h.sessions[1]).toMatchObject({
      state: 'closed',
      role: 'pre-sale',
      roleHistory: ['pre-sale'],
      agentId: `hist-a-${kind}`,
      agents: [`hist-a-${kind}`],
      rating: 5,
      ratingComment: '很好',
      preview: '这件羽绒服有货吗？',
    });
    expect(h.sessions[1].closedAt).toBeGreaterThanOrEqual(h.sessions[1].createdAt);
    expect(h.sessions[0]).toMatchObject({ state: 'assigned', preview: '我想改地址', agents: [`hist-a-${kind}`] });
    expect(h.next).toBeUndefined();

    a.send({ type: 'history', sessionId: second.sessionId, limit: 1 });
    const page1 = await a.next('history');
    expect(page1.sessions.map((s: any) => s.sessionId)).toEqual([second.sessionId]);
    a.send({ type: 'history', sessionId: second.sessionId, limit: 1, before: page1.next });
    const page2 = await a.next('history');
    expect(page2.sessions.map((s: any) => s.sessionId)).toEqual([first.sessionId]);
    expect(page2.next).toBeUndefined();

    a.send({ type: 'history_transcript', sessionId: second.sessionId, pastSessionId: first.sessionId });
    const t = await a.next('history_transcript');
    expect(t.session).toMatchObject({ sessionId: first.sessionId, rating: 5 });
    expect(t.transcript.filter((e: any) => e.from !== 'bot').map((e: any) => [e.from, e.text])).toEqual([
      ['buyer', '这件羽绒服有货吗？'],
      ['agent', '有的，亲'],
    ]);

    // Admins of the shop get the same list; limit and cursor bound it.
    const admin = await g.token({ sub: 'ops-1', kind: 'admin', shop: 'shop-1' });
    const res = await fetch(`${g.http}/v1/admin/buyers/${buyerId}/sessions`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.sessions.map((s: any) => s.sessionId)).toEqual([second.sessionId, first.sessionId]);
    expect(body.sessions[1]).toEqual(h.sessions[1]);
    const paged = await (await fetch(`${g.http}/v1/admin/buyers/${buyerId}/sessions?limit=1`, { headers: { authorization: `Bearer ${admin}` } })).json();
    expect(paged.sessions).toHaveLength(1);
    expect(typeof paged.next).toBe('number');
    const tooMany = await fetch(`${g.http}/v1/admin/buyers/${buyerId}/sessions?limit=51`, { headers: { authorization: `Bearer ${admin}` } });
    expect(tooMany.status).toBe(400);
    // Another shop's admin sees nothing of this shop's buyer; an agent token is refused.
    const other = await g.token({ sub: 'ops-2', kind: 'admin', shop: 'shop-2' });
    const elsewhere = await (await fetch(`${g.http}/v1/admin/buyers/${buyerId}/sessions`, { headers: { authorization: `Bearer ${other}` } })).json();
    expect(elsewhere.sessions).toEqual([]);
    const agentToken = await g.token({ sub: 'x', kind: 'agent', shop: 'shop-1' });
    expect((await fetch(`${g.http}/v1/admin/buyers/${buyerId}/sessions`, { headers: { authorization: `Bearer ${agentToken}` } })).status).toBe(403);

    expect([...a.violations, ...second.c.violations]).toEqual([]);
    await Promise.all([a.close(), second.c.close()]);
  });

  it('answers stable error codes to an agent that does not hold the session, and hides other buyers\' sessions', async () => {
    const a = await agent(g, `hist-a2-${kind}`);
    const mine = await buyer(g, `hist-b2-${kind}`);
    await served(g, mine.c, a, mine.sessionId, '在吗');
    const theirs = await buyer(g, `hist-b3-${kind}`);
    theirs.c.send({ type: 'message', clientMsgId: 'x1', text: '你好' });
    await theirs.c.next('ack');

    const outsider = await TestClient.connect(g.url, 'agent', await g.token({ sub: `hist-out-${kind}`, kind: 'agent', shop: 'shop-1' }));
    await outsider.next('welcome');
    outsider.send({ type: 'history', sessionId: mine.sessionId });
    expect(await outsider.next('error')).toMatchObject({ code: 'not_assigned', ref: mine.sessionId });
    outsider.send({ type: 'history_transcript', sessionId: mine.sessionId, pastSessionId: mine.sessionId });
    expect(await outsider.next('error')).toMatchObject({ code: 'not_assigned' });
    outsider.send({ type: 'history', sessionId: 'no-such-session' });
    expect(await outsider.next('error')).toMatchObject({ code: 'unknown_session' });
    outsider.send({ type: 'history', sessionId: mine.sessionId, limit: 500 });
    expect(await outsider.next('error')).toMatchObject({ code: 'bad_frame' });

    a.send({ type: 'history_transcript', sessionId: mine.sessionId, pastSessionId: theirs.sessionId });
    expect(await a.next('error')).toMatchObject({ code: 'unknown_session' });
    a.send({ type: 'history_transcript', sessionId: mine.sessionId, pastSessionId: mine.sessionId });
    expect((await a.next('history_transcript')).transcript[0]).toMatchObject({ from: 'buyer', text: '在吗' });
    await Promise.all([a.close(), mine.c.close(), theirs.c.close(), outsider.close()]);
  });
});

/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

describe('images of past sessions', () => {
  let g: RunningGateway;
  beforeAll(async () => {
    g = await startGateway({ redisUrl: redis.url, config: STORE_TEST_CONFIG });
  });
  afterAll(async () => {
    await g?.stop();
  });

  it('are readable by an agent that holds a later session of the same buyer, through `via`', async () => {
    const bt = await g.token({ sub: 'hist-img-b', kind: 'buyer', shop: 'shop-1' });
    const first = await buyer(g, 'hist-img-b');
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(PNG)], { type: 'image/png' }), 'defect.png');
    const up = await (await fetch(`${g.http}/v1/uploads`, { method: 'POST', body: form, headers: { authorization: `Bearer ${bt}` } })).json();
    const a1 = await agent(g, 'hist-img-a1');
    first.c.send({ type: 'message', clientMsgId: 'img', text: '坏了', attachments: [{ id: up.id, contentType: 'image/png', size: PNG.length }] });
    await first.c.next('ack');
    await a1.next('offer');
    a1.send({ type: 'accept', sessionId: first.sessionId });
    await a1.next('assigned');
    a1.send({ type: 'close', sessionId: first.sessionId });
    await first.c.next('message', (f) => f.kind === 'rating_invite');
    first.c.send({ type: 'rate', score: 2 });
    await first.c.next('closed');
    await Promise.all([first.c.close(), a1.close()]);

    const second = await buyer(g, 'hist-img-b');
    const a2 = await agent(g, 'hist-img-a2');
    await served(g, second.c, a2, second.sessionId, '还是坏的');
    const at = await g.token({ sub: 'hist-img-a2', kind: 'agent', shop: 'shop-1' });
    const get = (q: string) => fetch(`${g.http}${up.url}${q}`, { headers: { authorization: `Bearer ${at}` } });
    expect((await get('')).status).toBe(403);
    expect((await get(`?via=${second.sessionId}`)).status).toBe(200);
    // `via` must be a session this agent holds of that buyer.
    const other = await buyer(g, 'hist-img-other');
    expect((await get(`?via=${other.sessionId}`)).status).toBe(403);
    await Promise.all([second.c.close(), a2.close(), other.c.close()]);
  });
});

describe.each([
  ['RedisStore', async (prefix: string) => RedisStore.connect({ url: redis.url, keyPrefix: prefix, idleSessionTtlMs: 1_000 }) as Promise<Store>],
  ['embedded', async (prefix: string) => createEmbeddedStore({ keyPrefix: prefix, idleSessionTtlMs: 1_000 }) as Store],
] as const)('the per-buyer history index (%s)', (_name, make) => {
  it('drops a session from the index once its retention is over, and lives as long as the longest-kept one', async () => {
    const prefix = freshPrefix();
    const store = await make(prefix);
    const pttl = () => (store as unknown as { client: { pttl(k: string): Promise<number> } }).client.pttl(buyerHistoryKey(shopPrefix(prefix, 'shop-h'), 'b:1'));
    const now = Date.now();
    const s1 = await store.openSession('shop-h', 'b:1', now);
    await store.endSession('shop-h', s1.sessionId, 'ops_closed', now, { retentionMs: 150 });
    const s2 = await store.openSession('shop-h', 'b:1', now + 1);
    await store.endSession('shop-h', s2.sessionId, 'ops_closed', now + 1, { retentionMs: 60_000 });
    // The index outlives its sessions' retention (60 s here), never less.
    expect(await pttl()).toBeGreaterThan(50_000);
    expect(await pttl()).toBeLessThanOrEqual(60_000);
    const before = await store.buyerSessions('shop-h', 'b:1', { limit: 10 });
    expect(before.sessions.map((s) => s.id)).toEqual([s2.sessionId, s1.sessionId]);
    // Another buyer (and an id that could collide in a key name) sees none of them.
    expect((await store.buyerSessions('shop-h', 'b', { limit: 10 })).sessions).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    const after = await store.buyerSessions('shop-h', 'b:1', { limit: 10 });
    expect(after.sessions.map((s) => s.id)).toEqual([s2.sessionId]);
    await store.shutdown();
  });

  it(`keeps the newest ${BUYER_HISTORY_MAX} sessions of a buyer, paged newest first without gaps or repeats`, async () => {
    const store = await make(freshPrefix());
    const t0 = Date.now();
    const opened: string[] = [];
    for (let i = 0; i < BUYER_HISTORY_MAX + 5; i++) {
      const { sessionId } = await store.openSession('shop-c', 'many', t0 + i);
      await store.endSession('shop-c', sessionId, 'ops_closed', t0 + i, { retentionMs: 60_000 });
      opened.push(sessionId);
    }
    const seen: string[] = [];
    let before: number | undefined;
    do {
      const page = await store.buyerSessions('shop-c', 'many', { limit: 50, ...(before !== undefined ? { before } : {}) });
      seen.push(...page.sessions.map((s) => s.id));
      before = page.next;
    } while (before !== undefined);
    expect(seen).toEqual(opened.slice(5).reverse());
    await store.shutdown();
  });
});
