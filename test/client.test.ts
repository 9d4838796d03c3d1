/**
 * The client SDK (src/client) against a real gateway, on Node with `ws`: a chat end to end,
 * resume after a dropped connection without loss or duplicates, an unacked line resent with
 * its clientMsgId and stored once, an agent that comes back with its sessions, and the
 * two ways a connection can fail (token refused, gateway unreachable).
 */
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { AgentClient, BuyerClient, type AgentServerFrame, type BuyerServerFrame, type ConnStatus, type WebSocketCtor } from '../src/client/index.ts';
import { until } from './support/client.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';
import { getFreePort } from './support/redis-server.ts';

let g: RunningGateway;
beforeAll(async () => {
  g = await startGateway({});
});
afterAll(async () => {
  await g?.stop();
});

/** Collects a client's frames and lets a test wait for one. */
function inbox<F extends { type: string }>() {
  const frames: F[] = [];
  return {
    frames,
    push: (f: F) => void frames.push(f),
    next: async (type: string, pred: (f: any) => boolean = () => true): Promise<any> => {
      let found: F | undefined;
      await until(() => (found = frames.find((f) => f.type === type && pred(f))) !== undefined, 5_000, type);
      frames.splice(frames.indexOf(found!), 1);
      return found;
    },
  };
}

const fast = { baseDelayMs: 50, maxDelayMs: 200 };

async function chat(buyerId: string, agentId: string) {
  const buyerIn = inbox<BuyerServerFrame>();
  const agentIn = inbox<AgentServerFrame>();
  const buyer = new BuyerClient({ url: g.url, token: () => g.token({ sub: buyerId, kind: 'buyer' }), WebSocket, onFrame: buyerIn.push, ...fast });
  const agent = new AgentClient({ url: g.url, token: () => g.token({ sub: agentId, kind: 'agent' }), WebSocket, onFrame: agentIn.push, ...fast });
  agent.start();
  await agentIn.next('welcome');
  agent.ready(['pre-sale'], 5);
  buyer.start();
  const welcome = await buyerIn.next('welcome');
  const first = buyer.say('你好，这件有货吗？');
  const seq = await first.acked;
  expect(seq).toBeGreaterThan(0);
  const offer = await agentIn.next('offer');
  agent.accept(offer.sessionId);
  await agentIn.next('assigned');
  return { buyer, agent, buyerIn, agentIn, sessionId: welcome.sessionId as string };
}

describe('client SDK', () => {
  it('chats both ways, and a dropped buyer resumes from its last seq without loss or duplicates', async () => {
    const { buyer, agent, buyerIn, sessionId } = await chat('sdk-b1', 'sdk-a1');
    try {
      await agent.say(sessionId, '在的亲').acked;
      await buyerIn.next('message', (f) => f.from === 'agent' && f.text === '在的亲');

      buyer.drop();
      const lines = ['第一句', '第二句', '第三句'];
      for (const t of lines) await agent.say(sessionId, t).acked;
      const welcome = await buyerIn.next('welcome');
      expect(welcome.sessionId).toBe(sessionId);
      for (const t of lines) await buyerIn.next('message', (f) => f.text === t);
      await new Promise((r) => setTimeout(r, 200));
      // Nothing came twice, and every seq up to the newest was seen.
      const seqs = buyerIn.frames.filter((f) => f.type === 'message').map((f) => (f as { seq: number }).seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(buyer.lastSeq).toBe(welcome.lastSeq);
    } finally {
      buyer.stop();
      agent.stop();
    }
  });

  it('resends an unacked line with the same clientMsgId after a reconnect; the gateway stores it once', async () => {
    const { buyer, agent, agentIn, sessionId } = await chat('sdk-b2', 'sdk-a2');
    // A network that loses the first ack and then the connection, as a phone going into a tunnel would.
    let lost = false;
    class Lossy extends WebSocket {
      constructor(url: string) {
        super(url);
        const deliver = this.emit.bind(this);
        this.emit = ((event: string, ...args: unknown[]) => {
          if (event === 'message' && !lost && String(args[0]).includes('"type":"ack"')) {
            lost = true;
            this.terminate();
            return true;
          }
          return deliver(event, ...args);
        }) as typeof this.emit;
      }
    }
    const buyerIn = inbox<BuyerServerFrame>();
    const again = new BuyerClient({ url: g.url, token: () => g.token({ sub: 'sdk-b2', kind: 'buyer' }), WebSocket: Lossy as unknown as WebSocketCtor, onFrame: buyerIn.push, ...fast });
    buyer.stop();
    try {
      again.start();
      expect((await buyerIn.next('welcome')).sessionId).toBe(sessionId);
      const line = again.say('能便宜点吗？');
      const seq = await line.acked;
      expect(lost).toBe(true);
      expect(again.unacked()).toEqual([]);
      const seen = await agentIn.next('message', (f) => f.from === 'buyer' && f.text === '能便宜点吗？');
      expect(seen.seq).toBe(seq);
      await new Promise((r) => setTimeout(r, 300));
      expect(agentIn.frames.filter((f) => f.type === 'message' && (f as { text: string }).text === '能便宜点吗？')).toEqual([]);
    } finally {
      again.stop();
      agent.stop();
    }
  });

  it('a buyer restored from storage (a page reload) resumes after what it showed and resends a stored line once', async () => {
    const { buyer, agent, buyerIn, sessionId } = await chat('sdk-b4', 'sdk-a4');
    try {
      await agent.say(sessionId, '亲，在的').acked;
      await buyerIn.next('message', (f) => f.text === '亲，在的');
      const line = buyer.say('我要L码');
      const seq = await line.acked;
      const shown = buyer.lastSeq;
      buyer.stop();
      // The page kept the session, the seqs it showed, and (it thinks) an unacked line.
      const afterIn = inbox<BuyerServerFrame>();
      const reloaded = new BuyerClient({ url: g.url, token: () => g.token({ sub: 'sdk-b4', kind: 'buyer' }), WebSocket, onFrame: afterIn.push, ...fast });
      reloaded.restore(sessionId, Array.from({ length: shown }, (_, i) => i + 1));
      const again = reloaded.say('我要L码', line.clientMsgId);
      reloaded.start();
      expect((await afterIn.next('welcome')).sessionId).toBe(sessionId);
      expect(await again.acked).toBe(seq);
      await agent.say(sessionId, '好的').acked;
      const next = await afterIn.next('message', (f) => f.text === '好的');
      expect(next.seq).toBeGreaterThan(shown);
      expect(afterIn.frames.filter((f) => f.type === 'message')).toEqual([]);
      reloaded.stop();
    } finally {
      buyer.stop();
      agent.stop();
    }
  });

  it('an agent that drops comes back with its sessions, resumed, and its unacked lines resent', async () => {
    const { buyer, agent, agentIn, buyerIn, sessionId } = await chat('sdk-b3', 'sdk-a3');
    try {
      agent.drop();
      const pending = agent.say(sessionId, '稍等，我查一下');
      buyer.say('还在吗');
      const welcome = await agentIn.next('welcome');
      expect(welcome.sessions).toContain(sessionId);
      expect(await pending.acked).toBeGreaterThan(0);
      await buyerIn.next('message', (f) => f.text === '稍等，我查一下');
      await agentIn.next('message', (f) => f.from === 'buyer' && f.text === '还在吗');
      expect(agent.sessions.get(sessionId)).toBeGreaterThan(0);
    } finally {
      buyer.stop();
      agent.stop();
    }
  });

  it('tells a refused token (stops) from an unreachable gateway (keeps retrying)', async () => {
    const statuses: ConnStatus[] = [];
    const refused = new BuyerClient({ url: g.url, token: () => 'not-a-jwt', WebSocket, onFrame: () => {}, onStatus: (s) => statuses.push(s), ...fast });
    refused.start();
    await until(() => statuses.some((s) => s.state === 'refused'));
    expect(statuses.find((s) => s.state === 'refused')).toMatchObject({ state: 'refused', httpStatus: 401 });
    await new Promise((r) => setTimeout(r, 300));
    expect(statuses.filter((s) => s.state === 'connecting').length).toBe(1);
    refused.stop();

    const port = await getFreePort();
    const down: ConnStatus[] = [];
    const nobody = new AgentClient({ url: `ws://127.0.0.1:${port}`, token: () => 'x', WebSocket, onFrame: () => {}, onStatus: (s) => down.push(s), ...fast });
    nobody.start();
    await until(() => down.filter((s) => s.state === 'waiting').length >= 2);
    expect(down.find((s) => s.state === 'waiting')).toMatchObject({ reason: 'unreachable' });
    nobody.stop();
  });

  it('stops cleanly while its socket is still connecting (the upgrade not answered yet)', async () => {
    // A server that takes the connection and never answers the upgrade.
    const held: Socket[] = [];
    const silent = createServer((s) => void held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const unhandled: unknown[] = [];
    const onError = (err: unknown) => void unhandled.push(err);
    process.on('uncaughtException', onError);
    try {
      const buyer = new BuyerClient({ url: `ws://127.0.0.1:${port}`, token: () => 'x', WebSocket, onFrame: () => {}, ...fast });
      buyer.start();
      await until(() => held.length > 0);
      buyer.stop();
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('uncaughtException', onError);
      held.forEach((s) => s.destroy());
      silent.close();
    }
  });
});
