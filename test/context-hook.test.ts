import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';

const SECRET = 'hook-secret-0123456789';
const SLOW_MS = 3_000;
const ANSWER = { name: '王小姐', vip: 3, tags: ['gold'], orders: [{ id: 'o-1', status: 'paid', total: '¥399' }], crm: 'dropped' };

/** A shop's context hook: records each call (raw body and signature), answers by path. */
let receiver: Server;
const calls: { path: string; body: string; signature: string }[] = [];
let redis: RedisHandle;
let g: RunningGateway;

beforeAll(async () => {
  redis = await startRedis();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['x-peakdesk-signature'] ?? '') });
      const answer = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/ok') answer(ANSWER);
      else if (req.url === '/bad') answer({ vip: 'gold', tags: 'not a list' });
      else if (req.url === '/slow') setTimeout(() => answer(ANSWER), SLOW_MS).unref();
      else res.writeHead(500).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const hook = (path: string, timeoutMs = 2_000) => ({ context: { url: `${base}${path}`, secret: SECRET, timeoutMs } });
  g = await startGateway({
    redisUrl: redis.url,
    config: { shops: { 'shop-ok': hook('/ok'), 'shop-bad': hook('/bad'), 'shop-slow': hook('/slow'), 'shop-down': hook('/500') } },
  });
});
afterAll(async () => {
  await g?.stop();
  await new Promise((r) => receiver?.close(r));
  await redis?.stop();
});

async function hookCount(shop: string, outcome: string): Promise<number> {
  const m = await g.gateway.deps.metrics.contextHook.get();
  return m.values.find((v) => v.labels.shop === shop && v.labels.outcome === outcome)?.value ?? 0;
}

/** Connect, first message, first bot line: what the buyer waits for. */
async function greeting(shop: string, buyer: string): Promise<{ ms: number; b: TestClient; sessionId: string }> {
  const t0 = performance.now();
  const b = await TestClient.connect(g.url, 'buyer', await g.token({ sub: buyer, kind: 'buyer', shop }));
  const { sessionId } = await b.next('welcome');
  b.send({ type: 'message', clientMsgId: 'm1', text: '你好' });
  await b.next('message', (f) => f.from === 'bot');
  return { ms: performance.now() - t0, b, sessionId };
}

describe('the context hook', () => {
  it('POSTs {shop, buyerId} signed with the secret; the answer reaches offer, assigned and the admin view', async () => {
    const { b, sessionId } = await greeting('shop-ok', 'ctx-b1');
    await until(async () => (await g.gateway.deps.store.getSession('shop-ok', sessionId))?.buyerContext !== undefined);
    const call = calls.find((c) => c.path === '/ok')!;
    expect(JSON.parse(call.body)).toEqual({ shop: 'shop-ok', buyerId: 'ctx-b1' });
    // What an integrator does: HMAC of the raw body, compared in constant time.
    const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(call.body).digest('hex')}`);
    expect(timingSafeEqual(Buffer.from(call.signature), expected)).toBe(true);

    // The hook's name and VIP level override the token's (none here); `online` is the presence.
    const buyer = { id: 'ctx-b1', name: '王小姐', vip: 3, online: true, tags: ['gold'], orders: [{ id: 'o-1', status: 'paid', total: '¥399' }] };
    const a = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'ctx-a1', kind: 'agent', shop: 'shop-ok' }));
    await a.next('welcome');
    a.send({ type: 'ready', roles: ['pre-sale', 'after-sale', 'order-edit', 'bargaining'], capacity: 1 });
    expect((await a.next('offer')).buyer).toEqual(buyer);
    a.send({ type: 'accept', sessionId });
    expect((await a.next('assigned')).buyer).toEqual(buyer);
    const admin = await fetch(`${g.http}/v1/admin/sessions/${sessionId}`, { headers: { authorization: `Bearer ${await g.token({ sub: 'ops', kind: 'admin', shop: 'shop-ok' })}` } });
    expect(((await admin.json()) as any).session.buyerContext).toEqual({ name: '王小姐', vip: 3, tags: ['gold'], orders: [{ id: 'o-1', status: 'paid', total: '¥399' }] });
    expect(a.violations).toEqual([]);
    expect(await hookCount('shop-ok', 'ok')).toBe(1);

    // The answer stands for the same buyer for cacheMs: no second call.
    const hook = g.gateway.deps.config().shops['shop-ok']!.context!;
    expect(await g.gateway.svc.context.lookup('shop-ok', 'ctx-b1', hook)).toMatchObject({ vip: 3 });
    expect(calls.filter((c) => c.path === '/ok')).toHaveLength(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('a hook that sleeps past its timeout leaves the greeting as fast as with no hook', async () => {
    // Warm up both paths once, then compare medians of a few rounds.
    await (await greeting('shop-plain', 'warm-1')).b.close();
    await (await greeting('shop-slow', 'warm-2')).b.close();
    const plain: number[] = [];
    const slow: number[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await greeting('shop-plain', `plain-${i}`);
      plain.push(p.ms);
      const s = await greeting('shop-slow', `slow-${i}`);
      slow.push(s.ms);
      await Promise.all([p.b.close(), s.b.close()]);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[1]!;
    // A hook that blocked would add its whole timeout (2 s) to every greeting.
    expect(median(slow)).toBeLessThan(median(plain) * 10);
    await until(async () => (await hookCount('shop-slow', 'timeout')) >= 4, 10_000);
    expect(await hookCount('shop-slow', 'ok')).toBe(0);
  });

  it('a malformed or failing answer is ignored and counted', async () => {
    const { b, sessionId } = await greeting('shop-bad', 'ctx-b3');
    await until(async () => (await hookCount('shop-bad', 'malformed')) === 1);
    expect((await g.gateway.deps.store.getSession('shop-bad', sessionId))?.buyerContext).toBeUndefined();
    const a = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'ctx-a3', kind: 'agent', shop: 'shop-bad' }));
    await a.next('welcome');
    a.send({ type: 'ready', roles: ['pre-sale', 'after-sale', 'order-edit', 'bargaining'], capacity: 1 });
    // Nothing from the hook: the buyer as its token says (no name, VIP 0), and online.
    expect((await a.next('offer')).buyer).toEqual({ id: 'ctx-b3', vip: 0, online: true });
    const down = await greeting('shop-down', 'ctx-b4');
    await until(async () => (await hookCount('shop-down', 'error')) === 1);
    await Promise.all([a.close(), b.close(), down.b.close()]);
  });
});

describe('a failing hook in the log', () => {
  it('is logged once when a burst of failures starts and once when it answers again', async () => {
    const { pino } = await import('pino');
    const { Metrics } = await import('../src/metrics/metrics.ts');
    const { ContextHook } = await import('../src/domain/context-hook.ts');
    let healthy = false;
    const server = createServer((_req, res) => (healthy ? res.writeHead(200).end('{"vip":1}') : res.writeHead(503).end()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const lines: { msg: string; level: number }[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const hook = new ContextHook({ logger, metrics: new Metrics(), now: Date.now } as any);
    const cfg = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, secret: SECRET, timeoutMs: 1_000, cacheMs: 0 };
    try {
      for (let i = 0; i < 5; i++) expect(await hook.lookup('s', `b${i}`, cfg)).toBeNull();
      healthy = true;
      expect(await hook.lookup('s', 'b9', cfg)).toEqual({ vip: 1 });
      expect(lines.map((l) => l.msg)).toEqual(['context hook failing; sessions go on without it', 'context hook answers again']);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
