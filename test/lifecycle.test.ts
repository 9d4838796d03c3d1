/**
 * Issue 4 over real Redis: handover chains, transfer priority and atomicity, the closing
 * sequence, idle close, reply-window misses, blocks, and `bad_state` for frames that do not
 * fit the session's state. Time-driven steps move a skewed clock and sweep, not sleep.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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

let skew = 0;
const now = () => Date.now() + skew;
const running: RunningGateway[] = [];
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(running.splice(0).map((g) => g.stop()));
  skew = 0;
});

async function gateway(config: Record<string, any> = {}, keyPrefix?: string): Promise<RunningGateway> {
  const g = await startGateway({ redisUrl: redis.url, config, now, ...(keyPrefix ? { keyPrefix } : {}) });
  running.push(g);
  return g;
}

async function buyer(g: RunningGateway, id: string) {
  const c = await TestClient.connect(g.url, 'buyer', await g.token({ sub: id, kind: 'buyer' }));
  clients.push(c);
  const welcome = await c.next('welcome');
  return { c, sessionId: welcome.sessionId as string };
}

async function agent(g: RunningGateway, id: string, roles: string[], capacity: number) {
  const c = await TestClient.connect(g.url, 'agent', await g.token({ sub: id, kind: 'agent' }));
  clients.push(c);
  await c.next('welcome');
  c.send({ type: 'ready', roles, capacity });
  return c;
}

/** Waits for the offer of `sessionId`, accepts it and returns the `assigned` frame. */
async function take(a: TestClient, sessionId: string) {
  await a.next('offer', (f) => f.sessionId === sessionId);
  a.send({ type: 'accept', sessionId });
  return a.next('assigned', (f) => f.sessionId === sessionId);
}

/** A buyer whose first message queues it in the role its text names. */
async function queuedBuyer(g: RunningGateway, id: string, text: string, role: string) {
  const b = await buyer(g, id);
  b.c.send({ type: 'message', clientMsgId: `${id}-1`, text });
  expect(await b.c.next('queue')).toMatchObject({ sessionId: b.sessionId, role });
  return b;
}

describe('handover between roles', () => {
  it('pre-sale → order-edit → after-sale: each agent gets the full transcript, the note and the role history', async () => {
    const g = await gateway();
    const pre = await agent(g, 'pre', ['pre-sale'], 2);
    const edit = await agent(g, 'edit', ['order-edit'], 2);
    const after = await agent(g, 'after', ['after-sale'], 2);
    const { c: b, sessionId } = await queuedBuyer(g, 'chain-buyer', '你好，这件有货吗？', 'pre-sale');

    let assigned = await take(pre, sessionId);
    expect(assigned).toMatchObject({ role: 'pre-sale', roleHistory: ['pre-sale'], handovers: [] });
    pre.send({ type: 'message', sessionId, clientMsgId: 'p1', text: '有货的亲，今天下单明天发' });
    await pre.next('ack');
    b.send({ type: 'message', clientMsgId: 'b2', text: '我刚才拍错尺码了，想改成L码' });
    await b.next('ack');
    await pre.next('message', (m) => m.text.includes('L码'));

    pre.send({ type: 'transfer', sessionId, toRole: 'order-edit', note: '订单#123 改L码' });
    expect(await pre.next('session_closed')).toMatchObject({ sessionId, reason: 'transferred' });
    expect(await b.next('handover')).toMatchObject({ sessionId, fromRole: 'pre-sale', toRole: 'order-edit' });
    const line = await b.next('message', (m) => m.kind === 'handover');
    expect(line).toMatchObject({ from: 'bot', role: 'order-edit' });
    expect(line.text).toContain('订单修改');

    assigned = await take(edit, sessionId);
    expect(assigned).toMatchObject({ role: 'order-edit', note: '订单#123 改L码', roleHistory: ['pre-sale', 'order-edit'] });
    expect(assigned.handovers).toEqual([{ fromRole: 'pre-sale', toRole: 'order-edit', agentId: 'pre', note: '订单#123 改L码', ts: expect.any(Number) }]);
    expect(assigned.transcript.map((e: any) => e.text)).toEqual(expect.arrayContaining(['你好，这件有货吗？', '有货的亲，今天下单明天发', '我刚才拍错尺码了，想改成L码', line.text]));

    edit.send({ type: 'message', sessionId, clientMsgId: 'e1', text: '已改成L码，差价给您退' });
    await edit.next('ack');
    edit.send({ type: 'transfer', sessionId, toRole: 'after-sale', note: '退差价 20 元' });
    await edit.next('session_closed');
    await b.next('handover', (f) => f.toRole === 'after-sale');

    assigned = await take(after, sessionId);
    expect(assigned).toMatchObject({ role: 'after-sale', note: '退差价 20 元', roleHistory: ['pre-sale', 'order-edit', 'after-sale'] });
    expect(assigned.handovers.map((h: any) => [h.agentId, h.note])).toEqual([
      ['pre', '订单#123 改L码'],
      ['edit', '退差价 20 元'],
    ]);
    // Complete: every stored event, in seq order, nothing missing or doubled.
    const stored = await g.gateway.deps.store.readEvents('shop-1', sessionId, 0);
    expect(assigned.transcript.map((e: any) => [e.seq, e.from, e.text])).toEqual(stored.map((e) => [e.seq, e.from, e.text]));
    expect(stored.filter((e) => e.kind === 'handover')).toHaveLength(2);

    // The buyer heard every bot and agent line exactly once, in order.
    const heard = b.all('message').map((m) => m.seq);
    expect(heard).toEqual([...new Set(heard)].sort((x, y) => x - y));
    expect(heard).toEqual(stored.filter((e) => e.from !== 'buyer').map((e) => e.seq));
    for (const c of [b, pre, edit, after]) expect(c.violations).toEqual([]);
    const agents = await Promise.all(['pre', 'edit', 'after'].map((id) => g.gateway.deps.store.getAgent('shop-1', id)));
    expect(agents.map((a) => a?.load)).toEqual([0, 0, 1]);
  });

  it('a transferred session is assigned before a fresher session of the target role', async () => {
    const g = await gateway({ routing: { transferBoostMs: 0 } });
    const pre = await agent(g, 'pre', ['pre-sale'], 1);
    const x = await queuedBuyer(g, 'x', '在吗？这款有优惠吗', 'pre-sale');
    await take(pre, x.sessionId);
    // Y arrives later, straight into order-edit, where nobody is online yet.
    const y = await queuedBuyer(g, 'y', '我拍错颜色了，想改成黑色', 'order-edit');

    pre.send({ type: 'transfer', sessionId: x.sessionId, toRole: 'order-edit' });
    await pre.next('session_closed');
    expect(await x.c.next('queue', (f) => f.role === 'order-edit')).toMatchObject({ position: 1 });
    expect(await g.gateway.deps.store.queuePosition('shop-1', 'order-edit', y.sessionId)).toBe(2);

    const edit = await agent(g, 'edit', ['order-edit'], 1);
    const first = await edit.next('offer');
    expect(first.sessionId).toBe(x.sessionId);
    // The bots keep the transferred buyer company: position updates keep coming.
    expect(g.gateway.svc.waitingRoom.size).toBeGreaterThan(0);
  });

  it('an agent dropping mid-transfer never duplicates or loses a session', async () => {
    const g = await gateway({ routing: { agentGraceMs: 300 } });
    const n = 6;
    const quitter = await agent(g, 'quitter', ['pre-sale'], n);
    const buyers = [];
    for (let i = 0; i < n; i++) buyers.push(await queuedBuyer(g, `race-${i}`, '你好，这件有货吗？', 'pre-sale'));
    for (const b of buyers) await take(quitter, b.sessionId);

    // Transfers and the disconnect race: each transfer lands or the session waits out the grace period.
    for (const b of buyers) quitter.send({ type: 'transfer', sessionId: b.sessionId, toRole: 'order-edit', note: 'race' });
    quitter.ws.terminate();

    const edit = await agent(g, 'edit', ['order-edit'], n);
    const backup = await agent(g, 'backup', ['pre-sale'], n);
    const accepted = new Map<string, string[]>();
    const acceptAll = (a: TestClient, id: string) => {
      const handle = (f: Record<string, any>) => {
        if (f.type === 'offer') a.send({ type: 'accept', sessionId: f.sessionId });
        if (f.type === 'assigned') accepted.set(f.sessionId, [...(accepted.get(f.sessionId) ?? []), id]);
      };
      // Offers may have arrived before this handler: those first, then every later frame.
      a.frames.forEach(handle);
      a.ws.on('message', (raw) => handle(JSON.parse(raw.toString())));
    };
    acceptAll(edit, 'edit');
    acceptAll(backup, 'backup');
    await until(() => accepted.size === n, 8_000, 'every session assigned again');
    await new Promise((r) => setTimeout(r, 500)); // past the grace period: nothing may move again

    const store = g.gateway.deps.store;
    for (const b of buyers) {
      expect(accepted.get(b.sessionId)).toHaveLength(1);
      const s = await store.getSession('shop-1', b.sessionId);
      expect(s?.state).toBe('assigned');
      expect(s?.agentId).toBe(accepted.get(b.sessionId)![0]);
      // Transferred ones sit with order-edit, the rest went back to pre-sale after the grace period.
      expect(s?.role).toBe(s?.agentId === 'edit' ? 'order-edit' : 'pre-sale');
      for (const role of ['pre-sale', 'order-edit']) expect(await store.queuePosition('shop-1', role, b.sessionId)).toBeNull();
    }
    expect(await store.getAgent('shop-1', 'quitter')).toMatchObject({ load: 0, sessions: [], offers: [] });
    const loads = await Promise.all(['edit', 'backup'].map(async (id) => (await store.getAgent('shop-1', id))!.sessions.length));
    expect(loads[0]! + loads[1]!).toBe(n);
  });
});

describe('closing', () => {
  it('invites a rating, and says goodbye when the window ends unrated; a later message opens a new chat', async () => {
    const g = await gateway({ sessions: { rateWindowMs: 60_000 } });
    const a = await agent(g, 'a1', ['pre-sale'], 2);
    const { c: b, sessionId } = await queuedBuyer(g, 'quiet', '你好，这件有货吗？', 'pre-sale');
    await take(a, sessionId);
    a.send({ type: 'close', sessionId });
    await b.next('message', (m) => m.kind === 'rating_invite');
    await g.gateway.sweeper.sweep();
    expect((await g.gateway.deps.store.getSession('shop-1', sessionId))?.state).toBe('closing');

    skew += 60_001;
    await g.gateway.sweeper.sweep();
    const goodbye = await b.next('message', (m) => m.kind === 'goodbye');
    expect(goodbye.text).toContain('物流');
    expect(await b.next('closed')).toMatchObject({ sessionId, reason: 'agent_closed' });
    expect(b.frames.filter((f) => f.kind || f.type === 'closed').map((f) => f.kind ?? f.type)).toEqual(['rating_invite', 'goodbye', 'closed']);
    b.send({ type: 'rate', score: 3 });
    expect(await b.next('error')).toMatchObject({ code: 'bad_state' });

    // A message during the rating window ends it (goodbye, closed) and starts the next chat.
    const second = await queuedBuyer(g, 'talker', '这款有优惠吗', 'pre-sale');
    await take(a, second.sessionId);
    a.send({ type: 'close', sessionId: second.sessionId });
    await second.c.next('message', (m) => m.kind === 'rating_invite');
    second.c.send({ type: 'message', clientMsgId: 'again', text: '等等，还有一个问题' });
    await second.c.next('message', (m) => m.kind === 'goodbye');
    await second.c.next('closed');
    const welcome = await second.c.next('welcome');
    expect(welcome.sessionId).not.toBe(second.sessionId);
    expect(await second.c.next('ack', (f) => f.clientMsgId === 'again')).toMatchObject({ seq: 1 });
  });

  it('closes a chat whose buyer went quiet, with a polite line; waiting buyers are never idle-closed', async () => {
    const g = await gateway({ sessions: { idleCloseMs: 600_000 } });
    const a = await agent(g, 'a1', ['pre-sale'], 1);
    const talking = await queuedBuyer(g, 'idle-1', '你好，这件有货吗？', 'pre-sale');
    await take(a, talking.sessionId);
    const waiting = await queuedBuyer(g, 'idle-2', '你好，这件有货吗？', 'pre-sale');

    skew += 599_000;
    await g.gateway.sweeper.sweep();
    expect((await g.gateway.deps.store.getSession('shop-1', talking.sessionId))?.state).toBe('assigned');
    skew += 2_000;
    await g.gateway.sweeper.sweep();
    const line = await talking.c.next('message', (m) => m.kind === 'idle_close');
    expect(line.from).toBe('bot');
    expect(await talking.c.next('closed')).toMatchObject({ reason: 'idle' });
    expect(await a.next('message', (m) => m.kind === 'idle_close')).toMatchObject({ sessionId: talking.sessionId });
    expect(await a.next('session_closed', (f) => f.sessionId === talking.sessionId)).toMatchObject({ reason: 'idle' });
    // The freed capacity goes to the buyer who waited, who was not closed.
    expect((await a.next('offer')).sessionId).toBe(waiting.sessionId);
    expect(waiting.c.all('closed')).toEqual([]);
  });
});

describe('the 5-minute reply rate', () => {
  async function overdue(escalation: 'alert' | 'reoffer') {
    const g = await gateway({ routing: { replyEscalation: escalation } });
    const a = await agent(g, 'slow', ['after-sale'], 2);
    const { c: b, sessionId } = await queuedBuyer(g, `wait-${escalation}`, '我要退货', 'after-sale');
    await take(a, sessionId);
    // Answered in time: counted as a reply, not a miss.
    a.send({ type: 'message', sessionId, clientMsgId: 'r1', text: '亲，请问是什么问题呢？' });
    await a.next('ack');
    b.send({ type: 'message', clientMsgId: 'b2', text: '尺码太小了' });
    await a.next('message', (m) => m.text === '尺码太小了');
    skew += 299_000;
    await g.gateway.sweeper.sweep();
    expect((await g.gateway.deps.store.getAgent('shop-1', 'slow'))?.replyMisses).toBe(0);
    skew += 2_000;
    await g.gateway.sweeper.sweep();
    await until(async () => (await g.gateway.deps.store.getAgent('shop-1', 'slow'))?.replyMisses === 1, 3_000, 'miss counted');
    await g.gateway.sweeper.sweep(); // counted once per wait
    expect((await g.gateway.deps.store.getAgent('shop-1', 'slow'))?.replyMisses).toBe(1);
    const metrics = await (await fetch(`${g.http}/metrics`)).text();
    expect(metrics).toContain(`peakdesk_agent_reply_misses_total{shop="shop-1",role="after-sale",escalation="${escalation}"} 1`);
    expect(metrics).toMatch(/peakdesk_agent_reply_seconds_count\{shop="shop-1",role="after-sale"\} 1/);
    return { g, a, b, sessionId };
  }

  it('alert: the agent is told the buyer is waiting; the session stays', async () => {
    const { g, a, sessionId } = await overdue('alert');
    expect(await a.next('reply_overdue')).toMatchObject({ sessionId });
    expect((await g.gateway.deps.store.getSession('shop-1', sessionId))?.state).toBe('assigned');
  });

  it('reoffer: the session goes to the next agent, ahead of the queue', async () => {
    const { g, a, b, sessionId } = await overdue('reoffer');
    expect(await a.next('session_closed')).toMatchObject({ sessionId, reason: 'reply_timeout' });
    expect(await b.next('queue', (f) => f.position === 1)).toMatchObject({ role: 'after-sale' });
    const next = await agent(g, 'quick', ['after-sale'], 1);
    expect((await next.next('offer')).sessionId).toBe(sessionId);
  });
});

describe('block', () => {
  it('survives reconnects, on every instance sharing the Redis', async () => {
    const g = await gateway();
    const other = await gateway({}, g.gateway.deps.config().redis.keyPrefix);
    const a = await agent(g, 'a1', ['pre-sale'], 1);
    const { c: b, sessionId } = await queuedBuyer(g, 'abuser', '你好，这件有货吗？', 'pre-sale');
    await take(a, sessionId);
    b.send({ type: 'message', clientMsgId: 'abuse', text: '骂人的话' });
    await a.next('message', (m) => m.text === '骂人的话');
    a.send({ type: 'block', sessionId, reason: 'abusive language' });
    expect(await b.next('closed')).toMatchObject({ reason: 'blocked' });
    expect(await a.next('session_closed')).toMatchObject({ reason: 'blocked' });
    // The abusive line stays in the transcript for review.
    expect((await g.gateway.deps.store.readEvents('shop-1', sessionId, 0)).map((e) => e.text)).toContain('骂人的话');

    for (const gw of [g, other, g]) {
      const again = await TestClient.connect(gw.url, 'buyer', await gw.token({ sub: 'abuser', kind: 'buyer' }));
      clients.push(again);
      expect(await again.next('error')).toMatchObject({ code: 'blocked' });
      expect((await again.closed).code).toBe(1008);
    }
  });
});

describe('bad_state', () => {
  it('answers every frame that does not fit the session state', async () => {
    const g = await gateway();
    const a = await agent(g, 'a1', ['pre-sale'], 2);
    const { c: b, sessionId } = await queuedBuyer(g, 'states', '你好，这件有货吗？', 'pre-sale');
    const expectBadState = async (c: TestClient, frame: Record<string, unknown>) => {
      c.send(frame);
      const err = await c.next('error');
      expect(err.code, JSON.stringify(frame)).toBe('bad_state');
    };

    // queued → offered
    await expectBadState(b, { type: 'rate', score: 5 });
    await a.next('offer');
    // offered: only accept/decline fit.
    await expectBadState(b, { type: 'rate', score: 5 });
    a.send({ type: 'accept', sessionId });
    await a.next('assigned');
    // assigned: no offer to answer, nothing to rate.
    await expectBadState(a, { type: 'decline', sessionId });
    await expectBadState(b, { type: 'rate', score: 5 });

    a.send({ type: 'close', sessionId });
    await a.next('session_closed');
    // closing: the agent is done with it.
    for (const f of [
      { type: 'message', sessionId, clientMsgId: 'late', text: '还在吗' },
      { type: 'transfer', sessionId, toRole: 'after-sale' },
      { type: 'close', sessionId },
      { type: 'block', sessionId, reason: 'x' },
      { type: 'resume', sessionId, lastSeq: 0 },
      { type: 'accept', sessionId },
      { type: 'decline', sessionId },
    ]) {
      await expectBadState(a, f);
    }
    b.send({ type: 'rate', score: 4, comment: '很好' });
    await b.next('closed');
    // closed: nothing more, and one rating only.
    await expectBadState(b, { type: 'rate', score: 5 });
    for (const f of [
      { type: 'message', sessionId, clientMsgId: 'later', text: '?' },
      { type: 'close', sessionId },
      { type: 'accept', sessionId },
    ]) {
      await expectBadState(a, f);
    }
    expect(a.violations).toEqual([]);
    expect(b.violations).toEqual([]);
  });
});
