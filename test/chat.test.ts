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

type StoreKind = 'redis' | 'memory';
let storeKind: StoreKind = 'redis';

/** The same chats run on Redis and on the embedded store `npm start` uses without Redis. */
async function withGateway(config: Record<string, any>, fn: (g: RunningGateway) => Promise<void>): Promise<void> {
  const g = await startGateway({ ...(storeKind === 'redis' ? { redisUrl: redis.url } : {}), config });
  const clients: TestClient[] = [];
  try {
    await fn(g);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await g.stop();
  }
}

async function buyer(g: RunningGateway, id: string, shop = 'shop-1') {
  const c = await TestClient.connect(g.url, 'buyer', await g.token({ sub: id, kind: 'buyer', shop }));
  const welcome = await c.next('welcome');
  return { c, sessionId: welcome.sessionId as string, welcome };
}

async function agent(g: RunningGateway, id: string, opts: { roles?: string[]; capacity?: number; shop?: string; claimRoles?: string[] } = {}) {
  const c = await TestClient.connect(
    g.url,
    'agent',
    await g.token({ sub: id, kind: 'agent', shop: opts.shop ?? 'shop-1', ...(opts.claimRoles ? { roles: opts.claimRoles } : {}) }),
  );
  await c.next('welcome');
  if (opts.capacity !== undefined) c.send({ type: 'ready', roles: opts.roles ?? ['pre-sale'], capacity: opts.capacity });
  return c;
}

describe.each<StoreKind>(['redis', 'memory'])('a full chat over one gateway (%s store)', (kind) => {
  beforeAll(() => {
    storeKind = kind;
  });

  it('buyer → queue → offer → accept → messages both ways → close', async () => {
    await withGateway({}, async (g) => {
      const { c: b, sessionId } = await buyer(g, 'b1');
      b.send({ type: 'message', clientMsgId: 'm1', text: '你好，这件有货吗？' });
      expect(await b.next('ack')).toMatchObject({ clientMsgId: 'm1', seq: 1 });
      expect(await b.next('queue')).toMatchObject({ sessionId, role: 'pre-sale', position: 1 });

      const a = await agent(g, 'a1', { capacity: 2 });
      // The workbench's canned phrases come with the welcome, per role, from config.
      expect(a.all('welcome')[0]!.quickReplies['pre-sale']).toEqual(g.gateway.deps.config().workbench.quickReplies['pre-sale']);
      const offer = await a.next('offer');
      expect(offer).toMatchObject({ sessionId, role: 'pre-sale' });
      // The preview shows the buyer's line and the bot's greeting that answered it.
      expect(offer.preview.map((e: any) => e.from)).toEqual(['buyer', 'bot']);
      expect(offer.preview[0].text).toBe('你好，这件有货吗？');
      expect(offer.expiresAt).toBeGreaterThan(Date.now());

      a.send({ type: 'accept', sessionId });
      const assigned = await a.next('assigned');
      expect(assigned.transcript).toEqual([
        expect.objectContaining({ seq: 1, from: 'buyer', text: '你好，这件有货吗？' }),
        expect.objectContaining({ seq: 2, from: 'bot' }),
      ]);

      a.send({ type: 'message', sessionId, clientMsgId: 'x1', text: '有货的亲' });
      expect(await a.next('ack')).toMatchObject({ clientMsgId: 'x1', seq: 3 });
      expect(await b.next('message', (m) => m.from === 'agent')).toMatchObject({ sessionId, seq: 3, from: 'agent', text: '有货的亲' });

      b.send({ type: 'message', clientMsgId: 'm2', text: '好的谢谢' });
      expect(await b.next('ack')).toMatchObject({ seq: 4 });
      expect(await a.next('message')).toMatchObject({ sessionId, seq: 4, from: 'buyer', text: '好的谢谢' });

      // A resume on a connection that already has the lines live sends none of them twice.
      b.send({ type: 'resume', lastSeq: 0 });
      b.send({ type: 'ping' });
      await b.next('pong');
      const seen = b.all('message').map((m) => m.seq);
      expect(seen).toEqual([...new Set(seen)]);

      // Close: the agent is free at once; the buyer is invited to rate, then says goodbye.
      a.send({ type: 'close', sessionId });
      expect(await a.next('session_closed')).toMatchObject({ sessionId, reason: 'agent_closed' });
      expect(await b.next('message', (m) => m.kind === 'rating_invite')).toMatchObject({ sessionId, seq: 5, from: 'bot' });
      expect((await g.gateway.deps.store.getSession('shop-1', sessionId))?.state).toBe('closing');
      expect((await g.gateway.deps.store.getAgent('shop-1', 'a1'))?.load).toBe(0);

      // The rating ends the window: goodbye, then closed; a second rating is refused.
      b.send({ type: 'rate', score: 5 });
      expect(await b.next('message', (m) => m.kind === 'goodbye')).toMatchObject({ sessionId, seq: 6, from: 'bot' });
      expect(await b.next('closed')).toMatchObject({ sessionId, reason: 'agent_closed' });
      const closed = await g.gateway.deps.store.getSession('shop-1', sessionId);
      expect(closed).toMatchObject({ state: 'closed', rating: 5, lastAgentId: 'a1' });
      expect(await g.gateway.deps.store.getAgent('shop-1', 'a1')).toMatchObject({ ratingSum: 5, ratingCount: 1 });
      b.send({ type: 'rate', score: 4 });
      expect(await b.next('error')).toMatchObject({ code: 'bad_state' });
      // Frames arrived in seq order: invite before goodbye before closed.
      const tail = b.frames.filter((f) => f.type === 'closed' || f.kind);
      expect(tail.map((f) => f.kind ?? f.type)).toEqual(['rating_invite', 'goodbye', 'closed']);

      // Talking again after close opens a new session, announced with a new welcome.
      b.send({ type: 'message', clientMsgId: 'm3', text: '还有一个问题' });
      const again = await b.next('welcome');
      expect(again.sessionId).not.toBe(sessionId);
      expect(await b.next('ack')).toMatchObject({ clientMsgId: 'm3', seq: 1 });

      expect(b.violations).toEqual([]);
      expect(a.violations).toEqual([]);
      await Promise.all([a.close(), b.close()]);
    });
  });

  it('re-offers on decline and on timeout, to the next agent', async () => {
    await withGateway({ routing: { offerTimeoutMs: 1000 } }, async (g) => {
      const { c: b, sessionId } = await buyer(g, 'b2');
      b.send({ type: 'message', clientMsgId: 'm1', text: 'hi' });
      await b.next('ack');
      const a1 = await agent(g, 'a1', { capacity: 1 });
      await a1.next('offer', (f) => f.sessionId === sessionId);
      const a2 = await agent(g, 'a2', { capacity: 1 });
      a1.send({ type: 'decline', sessionId });
      // Declined: back at the head of the queue and offered to the other agent.
      const o2 = await a2.next('offer', (f) => f.sessionId === sessionId);
      expect(o2.role).toBe('pre-sale');
      // a2 lets it time out: it is revoked and offered again (a1's exclusion has lapsed by then).
      const revoked = await a2.next('revoked', (f) => f.sessionId === sessionId, 4000);
      expect(revoked.reason).toBe('expired');
      await a1.next('offer', (f) => f.sessionId === sessionId, 4000);
      a1.send({ type: 'accept', sessionId });
      await a1.next('assigned');
      // An expired offer can no longer be accepted.
      a2.send({ type: 'accept', sessionId });
      expect(await a2.next('error')).toMatchObject({ code: 'bad_state', ref: sessionId });
      await Promise.all([a1.close(), a2.close(), b.close()]);
    });
  });

  it('never gives an agent more sessions than its capacity', async () => {
    await withGateway({}, async (g) => {
      const buyers = await Promise.all(Array.from({ length: 6 }, (_, i) => buyer(g, `cap-b${i}`)));
      for (const [i, { c }] of buyers.entries()) {
        c.send({ type: 'message', clientMsgId: `m${i}`, text: 'hello' });
        await c.next('ack');
        // Arrival order is by millisecond; sessions of the same millisecond order by id.
        await new Promise((r) => setTimeout(r, 2));
      }
      const a = await agent(g, 'cap-a', { capacity: 2 });
      const first = await a.next('offer');
      const second = await a.next('offer');
      await expect(a.next('offer', () => true, 500)).rejects.toThrow();
      a.send({ type: 'accept', sessionId: first.sessionId });
      a.send({ type: 'accept', sessionId: second.sessionId });
      await a.next('assigned');
      await a.next('assigned');
      await expect(a.next('offer', () => true, 300)).rejects.toThrow();
      // Closing one frees one slot: exactly one more offer, for the oldest waiting session.
      a.send({ type: 'close', sessionId: first.sessionId });
      const third = await a.next('offer');
      expect(third.sessionId).toBe(buyers[2]!.sessionId);
      await expect(a.next('offer', () => true, 300)).rejects.toThrow();
      const view = await g.gateway.deps.store.getAgent('shop-1', 'cap-a');
      expect(view?.load).toBe(2);
      await Promise.all([a.close(), ...buyers.map((b) => b.c.close())]);
    });
  });

  /** A buyer's line (1), the greeting (2), an agent who accepted and answered (3); the buyer then leaves. */
  async function chatThenBuyerLeaves(g: RunningGateway, buyerId: string, agentId: string) {
    const { c: b, sessionId } = await buyer(g, buyerId);
    b.send({ type: 'message', clientMsgId: 'm1', text: 'q1' });
    await b.next('ack');
    const a = await agent(g, agentId, { capacity: 1 });
    await a.next('offer');
    a.send({ type: 'accept', sessionId });
    await a.next('assigned');
    a.send({ type: 'message', sessionId, clientMsgId: 'r1', text: 'answer 1' });
    await b.next('message', (f) => f.seq === 3);
    await b.close();
    return { a, sessionId };
  }

  it('resume after reconnect returns exactly the missed events; resent clientMsgId is stored once', async () => {
    await withGateway({}, async (g) => {
      const { a, sessionId } = await chatThenBuyerLeaves(g, 'rb', 'ra');

      // While the buyer is away the agent writes twice more.
      a.send({ type: 'message', sessionId, clientMsgId: 'r2', text: 'answer 2' });
      a.send({ type: 'message', sessionId, clientMsgId: 'r3', text: 'answer 3' });
      await a.next('ack', (f) => f.clientMsgId === 'r3');

      const again = await buyer(g, 'rb');
      expect(again.sessionId).toBe(sessionId);
      expect(again.welcome.lastSeq).toBe(5);
      again.c.send({ type: 'resume', lastSeq: 3 });
      const m3 = await again.c.next('message');
      const m4 = await again.c.next('message');
      expect([m3.seq, m4.seq, m3.text, m4.text]).toEqual([4, 5, 'answer 2', 'answer 3']);
      await expect(again.c.next('message', () => true, 300)).rejects.toThrow();

      // The same buyer message sent twice: one stored event, the same seq acked twice.
      again.c.send({ type: 'message', clientMsgId: 'dup', text: 'once' });
      again.c.send({ type: 'message', clientMsgId: 'dup', text: 'once' });
      const acks = [await again.c.next('ack'), await again.c.next('ack')];
      expect(acks[0]!.seq).toBe(6);
      expect(acks[1]!.seq).toBe(6);
      // Agent resends too.
      a.send({ type: 'message', sessionId, clientMsgId: 'r3', text: 'answer 3' });
      expect(await a.next('ack', (f) => f.clientMsgId === 'r3')).toMatchObject({ seq: 5 });
      const events = await g.gateway.deps.store.readEvents('shop-1', sessionId, 0);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      await expect(a.next('message', (f) => f.seq === 6)).resolves.toMatchObject({ text: 'once' });

      // Agent reconnects, resumes from what it had.
      await a.close();
      const a2 = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'ra', kind: 'agent' }));
      expect((await a2.next('welcome')).sessions).toEqual([sessionId]);
      a2.send({ type: 'resume', sessionId, lastSeq: 4 });
      expect((await a2.next('message')).seq).toBe(5);
      expect((await a2.next('message')).seq).toBe(6);
      await Promise.all([a2.close(), again.c.close()]);
    });
  });

  it('a live line that overtakes a resume does not make the replay skip the lines before it', async () => {
    await withGateway({}, async (g) => {
      const { a, sessionId } = await chatThenBuyerLeaves(g, 'race-b', 'race-a');
      // Said while the buyer is away (seq 4).
      a.send({ type: 'message', sessionId, clientMsgId: 'r2', text: 'answer 2' });
      await a.next('ack', (f) => f.clientMsgId === 'r2');

      // The buyer is back; before its resume, the agent says more, which arrives live (seq 5).
      const again = await buyer(g, 'race-b');
      a.send({ type: 'message', sessionId, clientMsgId: 'r3', text: 'answer 3' });
      expect(await again.c.next('message')).toMatchObject({ seq: 5, text: 'answer 3' });
      // Its resume from what it saw (3) brings seq 4, and not seq 5 a second time.
      again.c.send({ type: 'resume', lastSeq: 3 });
      expect(await again.c.next('message')).toMatchObject({ seq: 4, text: 'answer 2' });
      await expect(again.c.next('message', () => true, 300)).rejects.toThrow();

      // The same race on the agent's side.
      await a.close();
      again.c.send({ type: 'message', clientMsgId: 'm2', text: 'q2' });
      await again.c.next('ack');
      const a2 = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'race-a', kind: 'agent' }));
      expect((await a2.next('welcome')).sessions).toEqual([sessionId]);
      again.c.send({ type: 'message', clientMsgId: 'm3', text: 'q3' });
      expect(await a2.next('message')).toMatchObject({ seq: 7, text: 'q3' });
      a2.send({ type: 'resume', sessionId, lastSeq: 5 });
      expect(await a2.next('message')).toMatchObject({ seq: 6, text: 'q2' });
      await expect(a2.next('message', () => true, 300)).rejects.toThrow();
      await Promise.all([a2.close(), again.c.close()]);
    });
  });

  it('re-queues at the head when a disconnected agent does not come back within grace', async () => {
    await withGateway({ routing: { agentGraceMs: 500 } }, async (g) => {
      const { c: b, sessionId } = await buyer(g, 'gb');
      b.send({ type: 'message', clientMsgId: 'm1', text: 'help' });
      await b.next('ack');
      await b.next('queue');
      const a = await agent(g, 'ga', { capacity: 1 });
      await a.next('offer');
      a.send({ type: 'accept', sessionId });
      await a.next('assigned');
      // A newer buyer arrives meanwhile; the re-queued session must still come first.
      const late = await buyer(g, 'gb-late');
      late.c.send({ type: 'message', clientMsgId: 'm1', text: 'me too' });
      await late.c.next('ack');
      await a.close();

      // Still assigned within grace.
      expect((await g.gateway.deps.store.getSession('shop-1', sessionId))?.state).toBe('assigned');
      const q = await b.next('queue', (f) => f.position === 1, 3000);
      expect(q.sessionId).toBe(sessionId);
      const other = await agent(g, 'gc', { capacity: 1 });
      expect((await other.next('offer')).sessionId).toBe(sessionId);

      // An agent that does come back within grace keeps its sessions.
      other.send({ type: 'accept', sessionId });
      await other.next('assigned');
      await other.close();
      const back = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'gc', kind: 'agent' }));
      expect((await back.next('welcome')).sessions).toEqual([sessionId]);
      await new Promise((r) => setTimeout(r, 700));
      expect((await g.gateway.deps.store.getSession('shop-1', sessionId))?.agentId).toBe('gc');
      await Promise.all([back.close(), b.close(), late.c.close()]);
    });
  });
});
