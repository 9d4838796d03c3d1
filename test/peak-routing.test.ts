/**
 * Peak routing through the gateway, on real Redis and on the embedded engine: bot-first roles
 * (the FAQ bot answers, 转人工 queues at the original arrival time, deflection counted),
 * business hours (left messages held overnight, released to the first agent in the morning;
 * injected clock) and the context hook's VIP re-ordering a queue.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
const HOUR = 3_600_000;
/**
 * The next time after now that Shanghai (UTC+8) clocks read `hour`:00. Injected clocks run
 * ahead of the real one, never behind: the store's index of active shops marks by real time.
 */
function nextShanghai(hour: number): number {
  const shanghai = Date.now() + 8 * HOUR;
  let t = Math.floor(shanghai / (24 * HOUR)) * 24 * HOUR + hour * HOUR;
  if (t <= shanghai) t += 24 * HOUR;
  return t - 8 * HOUR;
}
const botLines = (c: TestClient) => c.all('message').filter((m) => m.from === 'bot').map((m) => m.text as string);

describe.each(['redis', 'embedded'] as const)('peak routing (%s)', (engine) => {
  async function withGateway(config: Record<string, any>, fn: (g: RunningGateway) => Promise<void>, now?: () => number): Promise<void> {
    const g = await startGateway({ ...(engine === 'redis' ? { redisUrl: redis.url } : {}), config, ...(now ? { now } : {}) });
    try {
      await fn(g);
    } finally {
      await g.stop();
    }
  }
  const buyer = async (g: RunningGateway, sub: string, claims: Record<string, unknown> = {}) => {
    const c = await TestClient.connect(g.url, 'buyer', await g.token({ sub, kind: 'buyer', ...claims }));
    return { c, sessionId: String((await c.next('welcome')).sessionId) };
  };
  const agent = async (g: RunningGateway, sub: string, roles: string[], capacity = 1) => {
    const a = await TestClient.connect(g.url, 'agent', await g.token({ sub, kind: 'agent' }));
    await a.next('welcome');
    a.send({ type: 'ready', roles, capacity });
    return a;
  };
  const queues = async (g: RunningGateway) => {
    const r = await fetch(`${g.http}/v1/admin/queues`, { headers: { authorization: `Bearer ${await g.token({ sub: 'ops', kind: 'admin' })}` } });
    expect(r.status).toBe(200);
    return ((await r.json()) as { queues: Record<string, unknown>[] }).queues;
  };

  const BOT_FIRST = {
    routing: { sweepIntervalMs: 100, offerTimeoutMs: 60_000 },
    sessions: { idleCloseMs: 1_800_000 },
    bots: { mode: { 'after-sale': 'bot-first' }, faq: [{ keywords: ['退货运费'], answer: '退货运费由卖家承担哦。' }], quietHours: null, campaigns: [] },
  };

  it('a bot-first role answers an FAQ without queuing and queues on 转人工 keeping its arrival time', async () => {
    const start = Date.now() + HOUR;
    let clock = start;
    await withGateway(
      BOT_FIRST,
      async (g) => {
        const a = await agent(g, 'bf-agent', ['after-sale']);
        const first = await buyer(g, 'bf-1');
        first.c.send({ type: 'message', clientMsgId: 'm1', text: '退货运费谁出？' });
        await until(() => botLines(first.c).length === 2, 3_000, 'greeting and FAQ answer');
        expect(botLines(first.c)[1]).toBe('退货运费由卖家承担哦。');
        expect(await g.gateway.deps.store.getSession('shop-1', first.sessionId)).toMatchObject({ state: 'bot', botRole: 'after-sale' });
        expect(first.c.all('queue')).toEqual([]);

        // Someone whose question no FAQ entry answers queues at once, later than the first buyer's first line.
        clock += 5_000;
        const second = await buyer(g, 'bf-2');
        second.c.send({ type: 'message', clientMsgId: 'm1', text: '我要退货' });
        expect(await second.c.next('queue')).toMatchObject({ role: 'after-sale', position: 1 });
        const offered = await a.next('offer');
        expect(offered.sessionId).toBe(second.sessionId);
        a.send({ type: 'accept', sessionId: second.sessionId });
        await a.next('assigned');

        // A third buyer queues behind; then the first asks for a person and goes ahead of them.
        clock += 5_000;
        const third = await buyer(g, 'bf-3');
        third.c.send({ type: 'message', clientMsgId: 'm1', text: '退款什么时候到' });
        expect(await third.c.next('queue')).toMatchObject({ role: 'after-sale', position: 1 });
        clock += 5_000;
        first.c.send({ type: 'message', clientMsgId: 'm2', text: '转人工' });
        expect(await first.c.next('queue')).toMatchObject({ role: 'after-sale', position: 1 });
        expect(await g.gateway.deps.store.getSession('shop-1', first.sessionId)).toMatchObject({ state: 'queued', arrivedAt: start });
        expect(await g.gateway.deps.store.queuePosition('shop-1', 'after-sale', third.sessionId)).toBe(2);
        await Promise.all([a.close(), first.c.close(), second.c.close(), third.c.close()]);
      },
      () => clock,
    );
  });

  it('counts a bot-first session that ends without ever queuing as deflected', async () => {
    let clock = Date.now() + HOUR;
    await withGateway(
      BOT_FIRST,
      async (g) => {
        const b = await buyer(g, 'df-1');
        b.c.send({ type: 'message', clientMsgId: 'm1', text: '退货运费谁出？' });
        await until(() => botLines(b.c).length === 2, 3_000, 'greeting and FAQ answer');
        await b.c.close();
        clock += 1_800_001;
        await until(async () => (await g.gateway.deps.store.getSession('shop-1', b.sessionId))?.state === 'closed', 5_000, 'idle close');
        const metrics = await (await fetch(`${g.http}/metrics`)).text();
        expect(metrics).toMatch(/^peakdesk_sessions_deflected_total\{shop="shop-1",role="after-sale"\} 1$/m);
        expect((await queues(g)).find((q) => q.role === 'after-sale')).toMatchObject({ deflected: 1 });
      },
      () => clock,
    );
  });

  it('business hours hold sessions as left messages overnight and release them to the first agent in the morning', async () => {
    // 23:00 in Shanghai; pre-sale answers 09:00–18:00.
    const night = nextShanghai(23);
    let clock = night;
    const config = {
      routing: { sweepIntervalMs: 100, offerTimeoutMs: 60_000 },
      sessions: { abandonMs: 60_000, maxQueuedMs: 3_600_000 },
      bots: { businessHours: { 'pre-sale': { from: '09:00', to: '18:00' } }, quietHours: null, campaigns: [] },
    };
    await withGateway(
      config,
      async (g) => {
        const a = await agent(g, 'bh-night', ['pre-sale'], 5);
        const early = await buyer(g, 'bh-1');
        early.c.send({ type: 'message', clientMsgId: 'm1', text: '这个有货吗' });
        // The greeting comes at once, then the bot says when agents are back.
        await until(() => botLines(early.c).length === 2, 3_000, 'greeting and outside-hours line');
        expect(botLines(early.c)[0]).toMatch(/^亲，欢迎光临/);
        expect(botLines(early.c)[1]).toContain('09:00–18:00');
        expect(await early.c.next('queue')).toMatchObject({ role: 'pre-sale', position: 1 });
        clock += 60_000;
        const later = await buyer(g, 'bh-2');
        later.c.send({ type: 'message', clientMsgId: 'm1', text: '这个有货吗' });
        expect(await later.c.next('queue')).toMatchObject({ position: 2 });
        // Both leave the page: a left message's buyer is expected to be gone.
        await Promise.all([early.c.close(), later.c.close()]);
        for (const { sessionId } of [early, later]) {
          await until(async () => (await g.gateway.deps.store.getSession('shop-1', sessionId))?.buyerOnline === false, 3_000, 'buyer offline');
        }
        // Several sweeps at night: nothing is offered, nothing times out or is abandoned.
        clock += 2 * 3_600_000;
        await sleep(500);
        expect(a.all('offer')).toEqual([]);
        expect((await queues(g)).find((q) => q.role === 'pre-sale')).toMatchObject({ depth: 2, online: 0, offline: 2, open: false });
        await a.close();

        // 09:00: the first agent of the morning gets the oldest first.
        clock = night + 10 * HOUR + 5_000;
        const morning = await agent(g, 'bh-morning', ['pre-sale'], 2);
        expect((await morning.next('offer')).sessionId).toBe(early.sessionId);
        expect((await morning.next('offer')).sessionId).toBe(later.sessionId);
        expect((await g.gateway.deps.store.getSession('shop-1', early.sessionId))?.state).toBe('offered');
        expect((await queues(g)).find((q) => q.role === 'pre-sale')).toMatchObject({ open: true });
        await morning.close();
      },
      () => clock,
    );
  });

  describe("the context hook's VIP", () => {
    let hook: Server;
    let release: () => void = () => {};
    let held = Promise.resolve();
    beforeAll(async () => {
      // Answers vip 3 for one buyer, only once the test lets it (after that buyer has queued).
      hook = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const vip = (JSON.parse(body) as { buyerId: string }).buyerId === 'hv-vip';
          const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(vip ? { vip: 3 } : {}));
          if (vip) void held.then(answer);
          else answer();
        });
      });
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    });
    afterAll(async () => {
      release();
      await new Promise((r) => hook?.close(r));
    });

    it('reorders the queue when it answers after the buyer queued', async () => {
      const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/ctx`;
      held = new Promise<void>((r) => (release = r));
      await withGateway({ routing: { offerTimeoutMs: 60_000 }, context: { url, secret: 'hook-secret-0123456789', timeoutMs: 10_000 } }, async (g) => {
        const all: TestClient[] = [];
        for (const sub of ['hv-1', 'hv-2', 'hv-3', 'hv-vip']) {
          const b = await buyer(g, sub);
          b.c.send({ type: 'message', clientMsgId: 'm1', text: '这个有货吗' });
          await b.c.next('queue');
          all.push(b.c);
          await sleep(5);
        }
        const vip = await g.gateway.deps.store.getSession('shop-1', String(all[3]!.all('welcome')[0]!.sessionId));
        expect(await g.gateway.deps.store.queuePosition('shop-1', 'pre-sale', vip!.id)).toBe(4);
        release();
        await until(async () => (await g.gateway.deps.store.queuePosition('shop-1', 'pre-sale', vip!.id)) === 1, 5_000, 'VIP moved up');
        const a = await agent(g, 'hv-agent', ['pre-sale']);
        expect(await a.next('offer')).toMatchObject({ sessionId: vip!.id, buyer: { id: 'hv-vip', vip: 3 } });
        await Promise.all([a.close(), ...all.map((c) => c.close())]);
      });
    });
  });
});
