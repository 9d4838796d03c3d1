/**
 * Redis Cluster with replicas (3 masters + 3 replicas on loopback): the master holding a
 * shop is killed in the middle of a chat and its replica takes over. Clients that follow the
 * contract (resend the same clientMsgId after `unavailable`) see no `internal` error, no
 * acked line is lost, and every stored line reaches the other side live or by replay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedisCluster, type RedisClusterHandle } from './support/redis-server.ts';
import { freshPrefix, startGateway, STORE_TEST_CONFIG, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';
import { shopPrefix } from '../src/store/redis/keys.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const CONFIG = STORE_TEST_CONFIG;

let cluster: RedisClusterHandle;
let g1: RunningGateway;
let g2: RunningGateway;
let keyPrefix: string;

beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: 1 });
  const clusterNodes = cluster.nodes.map((n) => `${n.host}:${n.port}`);
  keyPrefix = freshPrefix();
  g1 = await startGateway({ clusterNodes, keyPrefix, config: CONFIG });
  g2 = await startGateway({ clusterNodes, keyPrefix, config: CONFIG });
}, 60_000);
afterAll(async () => {
  await g1?.stop();
  await g2?.stop();
  await cluster?.stop();
});

/** The port of the master serving `shop`'s slot, asked of any live node. */
async function masterOf(shop: string): Promise<number> {
  const r = new Redis({ host: '127.0.0.1', port: cluster.nodes[0]!.port, maxRetriesPerRequest: 0, lazyConnect: true });
  r.on('error', () => {});
  try {
    await r.connect();
    const slot = Number(await r.call('CLUSTER', 'KEYSLOT', `${shopPrefix(keyPrefix, shop)}s:any`));
    const slots = (await r.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]]][];
    return slots.find(([from, to]) => slot >= from && slot <= to)![2][1];
  } finally {
    r.disconnect();
  }
}

/** kill -9 of the redis-server on `port`: no shutdown, no last sync to its replica. */
async function kill9(port: number): Promise<void> {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 });
  r.on('error', () => {});
  await r.connect();
  const pid = Number(/process_id:(\d+)/.exec(await r.info('server'))?.[1]);
  r.disconnect();
  process.kill(pid, 'SIGKILL');
}

/**
 * One side of the chat, as a client that follows the contract: every line is resent with
 * the same clientMsgId until it is acked (after `unavailable`, or no answer within 2 s).
 */
class Sender {
  readonly acked = new Map<string, number>();
  readonly errors: Record<string, number> = {};
  private readonly pending = new Map<string, { frame: object; sentAt: number }>();

  constructor(private readonly c: TestClient) {
    c.ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      if (f.type === 'ack' && this.pending.has(f.clientMsgId)) {
        this.acked.set(f.clientMsgId, f.seq);
        this.pending.delete(f.clientMsgId);
      } else if (f.type === 'error') {
        this.errors[f.code] = (this.errors[f.code] ?? 0) + 1;
        const p = this.pending.get(f.ref);
        if (p && f.code === 'unavailable') p.sentAt = 0; // resend at the next tick
      }
    });
  }

  send(id: string, frame: object): void {
    this.pending.set(id, { frame, sentAt: Date.now() });
    this.c.send(frame);
  }

  /** Resends what is due: at once after `unavailable`, after 2 s of silence otherwise. */
  tick(): void {
    const now = Date.now();
    for (const p of this.pending.values()) {
      if (p.sentAt !== 0 && now - p.sentAt <= 2_000) continue;
      p.sentAt = now;
      this.c.send(p.frame);
    }
  }

  get outstanding(): number {
    return this.pending.size;
  }
}

describe('Redis Cluster failover (3 masters + 3 replicas)', () => {
  it('a master killed mid-chat: 0 internal errors, 0 acked lines lost, every stored line delivered live or by replay', async () => {
    const shop = 'failover-shop';
    const victimPort = await masterOf(shop);

    const b = await TestClient.connect(g1.url, 'buyer', await g1.token({ sub: 'fo-buyer', kind: 'buyer', shop }));
    const { sessionId } = await b.next('welcome');
    const a = await TestClient.connect(g2.url, 'agent', await g2.token({ sub: 'fo-agent', kind: 'agent', shop }));
    await a.next('welcome');
    a.send({ type: 'ready', roles: ['pre-sale'], capacity: 2 });
    b.send({ type: 'message', clientMsgId: 'first', text: '双十一有什么活动？' });
    await a.next('offer', (f) => f.sessionId === sessionId);
    a.send({ type: 'accept', sessionId });
    await a.next('assigned', (f) => f.sessionId === sessionId);

    const buyer = new Sender(b);
    const agent = new Sender(a);
    let bi = 0;
    let ai = 0;
    let killedAt = 0;
    const started = Date.now();
    // Lines both ways; the master goes after 1.5 s, and traffic goes on 10 s beyond.
    while (Date.now() - started < 12_000) {
      if (!killedAt && Date.now() - started > 1_500) {
        killedAt = Date.now();
        void kill9(victimPort);
      }
      buyer.send(`b${bi}`, { type: 'message', clientMsgId: `b${bi}`, text: `buyer line ${bi}` });
      bi += 1;
      if (bi % 3 === 0) {
        agent.send(`a${ai}`, { type: 'message', sessionId, clientMsgId: `a${ai}`, text: `agent line ${ai}` });
        ai += 1;
      }
      buyer.tick();
      agent.tick();
      await sleep(25);
    }
    // Everything sent is acked in the end.
    await until(
      () => {
        buyer.tick();
        agent.tick();
        return buyer.outstanding === 0 && agent.outstanding === 0;
      },
      20_000,
      'every line acked',
    );
    await sleep(1_000);

    const stored = await g1.gateway.deps.store.readEvents(shop, sessionId, 0);
    const storedBy = new Map(stored.map((e) => [e.seq, e]));
    const seenByAgent = new Set(a.all('message').map((m) => m.seq as number));
    const seenByBuyer = new Set(b.all('message').map((m) => m.seq as number));
    const lostAcked = [...buyer.acked.values(), ...agent.acked.values()].filter((seq) => !storedBy.has(seq));
    const buyerLines = stored.filter((e) => e.from === 'buyer' && e.seq > 1);
    const notAtAgent = buyerLines.filter((e) => !seenByAgent.has(e.seq)).map((e) => e.seq);
    const notAtBuyer = stored.filter((e) => e.from !== 'buyer').filter((e) => !seenByBuyer.has(e.seq)).map((e) => e.seq);
    const dupAtAgent = a.all('message').length - seenByAgent.size;
    console.log(
      `failover of master :${victimPort} after ${killedAt - started} ms: ${buyer.acked.size} buyer and ${agent.acked.size} agent lines acked; ` +
        `errors at the buyer ${JSON.stringify(buyer.errors)}, at the agent ${JSON.stringify(agent.errors)}; ` +
        `${lostAcked.length} acked lost, ${notAtAgent.length} stored buyer lines not at the agent, ${notAtBuyer.length} stored lines not at the buyer, ${dupAtAgent} duplicates`,
    );
    expect(buyer.errors.internal ?? 0).toBe(0);
    expect(agent.errors.internal ?? 0).toBe(0);
    expect(lostAcked).toEqual([]);
    expect(notAtAgent).toEqual([]);
    expect(notAtBuyer).toEqual([]);
    expect(dupAtAgent).toBe(0);
    expect(buyer.acked.size).toBe(bi);
    expect(agent.acked.size).toBe(ai);
  }, 90_000);
});
