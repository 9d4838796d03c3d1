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

const GREETING = '亲，欢迎光临{shop}！';
const baseBots = {
  texts: { greeting: GREETING, queueUpdate: '前面还有{position}位，预计{eta}', busy: '人有点多，请先留言哦', etaUnknown: '稍后' },
  queueUpdates: { checkIntervalMs: 50, minIntervalMs: 0, minPositionChange: 1 },
  busy: { afterMs: 0 },
  quietHours: null,
  limits: { perMinute: 10 },
  campaigns: [],
  faq: [
    { keywords: ['发货', 'ship'], answer: '付款后48小时内发货。', queue: true },
    { keywords: ['满减', '双十一规则'], answer: '跨店每满300减50。', queue: false },
    { keywords: ['尺码表'], answer: '尺码表在商品详情页。', queue: true },
  ],
};

async function withGateway(config: Record<string, any>, fn: (g: RunningGateway) => Promise<void>, now?: () => number, engine: 'redis' | 'embedded' = 'redis'): Promise<void> {
  const g = await startGateway({ ...(engine === 'redis' ? { redisUrl: redis.url } : {}), config, ...(now ? { now } : {}) });
  try {
    await fn(g);
  } finally {
    await g.stop();
  }
}

async function buyer(g: RunningGateway, id: string, shop = 'shop-1') {
  const c = await TestClient.connect(g.url, 'buyer', await g.token({ sub: id, kind: 'buyer', shop }));
  const { sessionId } = await c.next('welcome');
  return { c, sessionId: sessionId as string };
}

async function agent(g: RunningGateway, id: string, roles = ['pre-sale'], capacity = 1, shop = 'shop-1') {
  const c = await TestClient.connect(g.url, 'agent', await g.token({ sub: id, kind: 'agent', shop }));
  await c.next('welcome');
  c.send({ type: 'ready', roles, capacity });
  return c;
}

const botLines = (c: TestClient) => c.all('message').filter((m) => m.from === 'bot').map((m) => m.text as string);

describe('waiting-room bots', () => {
  it('greets before any agent is online, and the greeting is part of the transcript', async () => {
    await withGateway({ bots: baseBots }, async (g) => {
      const { c, sessionId } = await buyer(g, 'greet-b');
      c.send({ type: 'message', clientMsgId: '1', text: '在吗' });
      const hello = await c.next('message', (m) => m.from === 'bot');
      expect(hello).toMatchObject({ sessionId, seq: 2, text: '亲，欢迎光临本店！', role: 'pre-sale' });
      const a = await agent(g, 'greet-a');
      await a.next('offer');
      a.send({ type: 'accept', sessionId });
      const assigned = await a.next('assigned');
      expect(assigned.transcript.map((e: any) => [e.from, e.text])).toEqual([
        ['buyer', '在吗'],
        ['bot', '亲，欢迎光临本店！'],
      ]);
      // The golden-6-seconds histogram saw this session's first response.
      const metrics = await (await fetch(`${g.http}/metrics`)).text();
      expect(metrics).toMatch(/^peakdesk_first_response_seconds_count\{shop="shop-1",role="pre-sale"\} 1$/m);
      expect(metrics).toMatch(/^peakdesk_first_response_seconds_bucket\{le="6",shop="shop-1",role="pre-sale"\} 1$/m);
      await Promise.all([a.close(), c.close()]);
    });
  });

  it('routes by intent and moves a waiting session when a later message names another role', async () => {
    await withGateway({ bots: baseBots }, async (g) => {
      const { c, sessionId } = await buyer(g, 'intent-b');
      c.send({ type: 'message', clientMsgId: '1', text: '我拍错颜色了，想改成黑色' });
      expect(await c.next('queue')).toMatchObject({ sessionId, role: 'order-edit', position: 1 });
      c.send({ type: 'message', clientMsgId: '2', text: '算了，我要退款' });
      expect(await c.next('handover')).toMatchObject({ sessionId, fromRole: 'order-edit', toRole: 'after-sale' });
      expect(await c.next('queue')).toMatchObject({ sessionId, role: 'after-sale', position: 1 });
      // A message naming no role keeps it where it is.
      c.send({ type: 'message', clientMsgId: '3', text: '好的谢谢' });
      await c.next('ack', (f) => f.clientMsgId === '3');
      const s = await g.gateway.deps.store.getSession('shop-1', sessionId);
      expect(s?.role).toBe('after-sale');
      expect(s?.roleHistory).toEqual(['order-edit', 'after-sale']);
      await c.close();
    });
  });

  it('counts queue positions down as the sessions ahead are assigned', async () => {
    await withGateway({ bots: baseBots }, async (g) => {
      const buyers = [];
      for (let i = 0; i < 4; i++) {
        const b = await buyer(g, `count-b${i}`);
        b.c.send({ type: 'message', clientMsgId: '1', text: '你好' });
        expect(await b.c.next('queue')).toMatchObject({ position: i + 1 });
        buyers.push(b);
      }
      const last = buyers[3]!;
      const a = await agent(g, 'count-a');
      for (let i = 0; i < 3; i++) {
        const offer = await a.next('offer');
        expect(offer.sessionId).toBe(buyers[i]!.sessionId);
        a.send({ type: 'accept', sessionId: offer.sessionId });
        await a.next('assigned');
        expect(await last.c.next('queue')).toMatchObject({ sessionId: last.sessionId, position: 3 - i });
        a.send({ type: 'close', sessionId: offer.sessionId });
      }
      expect(last.c.all('queue').map((q) => q.position)).toEqual([4, 3, 2, 1]);
      // The bot said the new place each time it changed (minPositionChange 1), with an ETA.
      await until(() => botLines(last.c).filter((t) => t.startsWith('前面还有')).length === 3, 3000, 'position texts');
      expect(botLines(last.c).filter((t) => t.startsWith('前面还有'))).toEqual([
        expect.stringMatching(/^前面还有3位，预计/),
        expect.stringMatching(/^前面还有2位，预计/),
        expect.stringMatching(/^前面还有1位，预计/),
      ]);
      await Promise.all([a.close(), ...buyers.map((b) => b.c.close())]);
    });
  });

  it('answers FAQ questions at once; an entry with queue:false does not queue the buyer', async () => {
    await withGateway({ bots: baseBots }, async (g) => {
      const { c, sessionId } = await buyer(g, 'faq-b');
      c.send({ type: 'message', clientMsgId: '1', text: '双十一满减怎么算？' });
      await until(() => botLines(c).length === 2, 3000, 'greeting and answer');
      expect(botLines(c)).toEqual(['亲，欢迎光临本店！', '跨店每满300减50。']);
      expect(c.all('queue')).toEqual([]);
      expect((await g.gateway.deps.store.getSession('shop-1', sessionId))?.state).toBe('bot');
      // A question that needs a person queues it; that answer comes at once as well.
      c.send({ type: 'message', clientMsgId: '2', text: '什么时候发货呀' });
      expect(await c.next('queue')).toMatchObject({ role: 'pre-sale', position: 1 });
      await until(() => botLines(c).length === 3, 3000, 'shipping answer');
      expect(botLines(c)[2]).toBe('付款后48小时内发货。');
      // Once an agent has the chat, the bot stays out of it.
      const a = await agent(g, 'faq-a');
      await a.next('offer');
      a.send({ type: 'accept', sessionId });
      await a.next('assigned');
      c.send({ type: 'message', clientMsgId: '3', text: '有尺码表吗' });
      expect(await a.next('message')).toMatchObject({ from: 'buyer', text: '有尺码表吗' });
      await new Promise((r) => setTimeout(r, 200));
      expect(botLines(c)).toHaveLength(3);
      await Promise.all([a.close(), c.close()]);
    });
  });

  it('caps bot lines per minute; quiet hours never silence a connected buyer, only one who is gone (injected clock)', async () => {
    // 23:30 in Shanghai: inside the 22:00–08:00 quiet window.
    let clock = Date.parse('2026-11-11T23:30:00+08:00');
    const config = {
      bots: { ...baseBots, limits: { perMinute: 2 }, quietHours: { from: '22:00', to: '08:00' }, busy: { afterMs: 60_000 } },
    };
    await withGateway(
      config,
      async (g) => {
        const { c } = await buyer(g, 'quiet-b');
        // Replies are allowed at night: greeting + the first FAQ answer use up the minute's 2 lines.
        c.send({ type: 'message', clientMsgId: '1', text: '什么时候发货' });
        await until(() => botLines(c).length === 2, 3000, 'two replies');
        c.send({ type: 'message', clientMsgId: '2', text: '有尺码表吗' });
        await c.next('ack', (f) => f.clientMsgId === '2');
        // Over the cap: the size-chart answer is suppressed.
        await new Promise((r) => setTimeout(r, 200));
        expect(botLines(c)).toEqual(['亲，欢迎光临本店！', '付款后48小时内发货。']);
        // A minute later the cap has room again; waiting 2 minutes earns the busy line even
        // at night, as the buyer is connected.
        clock += 120_000;
        c.send({ type: 'message', clientMsgId: '3', text: '有尺码表吗' });
        await until(() => botLines(c).length === 4, 3000, 'size chart answer and busy line');
        expect(botLines(c).slice(2).sort()).toEqual(['人有点多，请先留言哦', '尺码表在商品详情页。'].sort());
        const metrics = await (await fetch(`${g.http}/metrics`)).text();
        expect(metrics).toMatch(/^peakdesk_bot_messages_total\{shop="[^"]+",kind="reply",outcome="rate"\} 1$/m);
        expect(metrics).not.toMatch(/outcome="quiet_hours"/);
        // Gone from the page: a proactive line is held back at night, a reply is not.
        const { sessionId } = await g.gateway.deps.store.openSession('shop-1', 'quiet-b', clock);
        await c.close();
        await until(async () => (await g.gateway.deps.store.getSession('shop-1', sessionId))?.buyerOnline === false, 3000, 'buyer offline');
        clock += 120_000;
        expect(await g.gateway.svc.bots.say('shop-1', sessionId, '还在吗', 'proactive', 'pre-sale')).toBeNull();
        const after = await (await fetch(`${g.http}/metrics`)).text();
        expect(after).toMatch(/^peakdesk_bot_messages_total\{shop="[^"]+",kind="proactive",outcome="quiet_hours"\} 1$/m);
        // …until the morning.
        clock = Date.parse('2026-11-12T09:00:00+08:00');
        expect((await g.gateway.svc.bots.say('shop-1', sessionId, '早上好', 'proactive', 'pre-sale'))?.seq).toBeGreaterThan(0);
      },
      () => clock,
    );
  });

  it.each(['redis', 'embedded'] as const)('quiet hours covering the whole day still let a connected buyer get queue updates (%s)', async (engine) => {
    const config = { bots: { ...baseBots, quietHours: { from: '00:00', to: '23:59' }, timezone: 'UTC' } };
    // 23:59 is the one minute outside the window; keep the clock away from it.
    let clock = Date.parse('2026-11-11T12:00:00Z');
    await withGateway(
      config,
      async (g) => {
        const first = await buyer(g, 'day-1');
        first.c.send({ type: 'message', clientMsgId: '1', text: '这个有货吗' });
        await first.c.next('queue');
        clock += 1_000;
        const second = await buyer(g, 'day-2');
        second.c.send({ type: 'message', clientMsgId: '1', text: '这个有货吗' });
        expect(await second.c.next('queue')).toMatchObject({ position: 2 });
        const a = await agent(g, 'day-a');
        await a.next('offer');
        await second.c.next('queue', (f) => f.position === 1);
        await until(() => botLines(second.c).some((t) => t.startsWith('前面还有1位')), 3000, 'queue update line at "night"');
        await Promise.all([a.close(), first.c.close(), second.c.close()]);
      },
      () => clock,
      engine,
    );
  });

  it('adds the running campaign script to the greeting, only inside its window', async () => {
    let clock = Date.parse('2026-11-10T19:00:00+08:00');
    const campaigns = [{ name: 'd11', from: '2026-11-10T20:00:00+08:00', to: '2026-11-12T02:00:00+08:00', text: '双十一预售：定金翻倍！' }];
    await withGateway(
      { bots: { ...baseBots, campaigns } },
      async (g) => {
        const early = await buyer(g, 'camp-early');
        early.c.send({ type: 'message', clientMsgId: '1', text: '在吗' });
        await early.c.next('message', (m) => m.from === 'bot');
        clock = Date.parse('2026-11-11T00:00:05+08:00');
        const during = await buyer(g, 'camp-during');
        during.c.send({ type: 'message', clientMsgId: '1', text: '在吗' });
        await until(() => botLines(during.c).length === 2, 3000, 'greeting and campaign');
        expect(botLines(during.c)).toEqual(['亲，欢迎光临本店！', '双十一预售：定金翻倍！']);
        expect(botLines(early.c)).toEqual(['亲，欢迎光临本店！']);
        await Promise.all([early.c.close(), during.c.close()]);
      },
      () => clock,
    );
  });

  it('blocks or masks sensitive words in agent messages', async () => {
    const moderation = {
      lists: [
        { name: 'off-platform', words: ['微信', 'vx'], policy: 'block' },
        { name: 'rivals', words: ['京东'], policy: 'mask' },
      ],
    };
    await withGateway({ bots: baseBots, moderation }, async (g) => {
      const { c, sessionId } = await buyer(g, 'mod-b');
      c.send({ type: 'message', clientMsgId: '1', text: '你好' });
      const a = await agent(g, 'mod-a');
      await a.next('offer');
      a.send({ type: 'accept', sessionId });
      await a.next('assigned');
      const before = (await g.gateway.deps.store.readEvents('shop-1', sessionId, 0)).length;
      a.send({ type: 'message', sessionId, clientMsgId: 'x', text: '加我微信聊吧' });
      const err = await a.next('error');
      expect(err).toMatchObject({ code: 'forbidden', ref: 'x' });
      expect(err.message).toContain('微信');
      a.send({ type: 'message', sessionId, clientMsgId: 'y', text: '加我VX' });
      expect((await a.next('error')).message).toContain('vx');
      expect((await g.gateway.deps.store.readEvents('shop-1', sessionId, 0)).length).toBe(before);
      a.send({ type: 'message', sessionId, clientMsgId: 'z', text: '比京東便宜哦' });
      await a.next('ack', (f) => f.clientMsgId === 'z');
      expect(await c.next('message', (m) => m.from === 'agent')).toMatchObject({ text: '比**便宜哦' });
      await Promise.all([a.close(), c.close()]);
    });
  });

  it('greets a burst of 2,000 buyers arriving within a second with no agent online', async () => {
    // Every test buyer comes from 127.0.0.1: the per-address cap on connections still upgrading
    // (server.maxUnauthenticatedPerAddress) would stand for a proxy's address here, so it is off.
    await withGateway({ bots: baseBots, server: { maxUnauthenticatedPerAddress: 0, rateLimit: { buyer: { perSecond: 20, burst: 40 } } } }, async (g) => {
      const N = 2000;
      const latencies: number[] = [];
      const clients: TestClient[] = [];
      const started = Date.now();
      await Promise.all(
        Array.from({ length: N }, async (_, i) => {
          // Spread the arrivals over one second.
          await new Promise((r) => setTimeout(r, (i / N) * 1000));
          const { c } = await buyer(g, `burst-${i}`, 'burst-shop');
          clients.push(c);
          const sentAt = performance.now();
          c.send({ type: 'message', clientMsgId: '1', text: '双十一有什么活动' });
          await c.next('message', (m) => m.from === 'bot', 30_000);
          latencies.push(performance.now() - sentAt);
        }),
      );
      const wall = Date.now() - started;
      latencies.sort((a, b) => a - b);
      const p = (q: number) => latencies[Math.min(N - 1, Math.ceil(q * N) - 1)]!.toFixed(1);
      console.log(`burst: ${N} buyers greeted in ${wall} ms; greeting latency p50=${p(0.5)}ms p99=${p(0.99)}ms max=${p(1)}ms`);
      expect(latencies).toHaveLength(N);
      expect(await g.gateway.deps.store.queueLength('burst-shop', 'pre-sale')).toBe(N);
      await Promise.all(clients.map((c) => c.close()));
    });
  }, 60_000);
});
