/**
 * Fault suite: the gateway against a real redis-server that dies, pauses or is a cluster.
 *
 *  1. Crash recovery with AOF: kill -9 mid-chat (appendfsync always) and a graceful SHUTDOWN
 *     (appendfsync everysec) lose no acknowledged message; the gateway reconnects by itself,
 *     frames during the outage get `error unavailable`, resending the same clientMsgId after
 *     Redis is back stores nothing twice, and the chat goes on over the same sockets.
 *  2. A 5 s outage: /healthz 200 throughout, /readyz 503 while down, sockets stay open,
 *     the chat resumes without reconnecting, new connections work.
 *  3. Redis Cluster (3 masters): the full chat lifecycle across two gateways, several shops
 *     spread over the masters, and the admin API (queues of every shop, config roll-out).
 *
 * Loopback only; every redis-server is this file's own. The whole file runs in ~15 s.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, startRedisCluster, type RedisHandle } from './support/redis-server.ts';
import { freshPrefix, startGateway, STORE_TEST_CONFIG, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';
import { channelOf, shopPrefix } from '../src/store/redis/keys.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Torn down after each test, last first, whatever happened. */
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

const CONFIG = STORE_TEST_CONFIG;

async function gateway(opts: Parameters<typeof startGateway>[0]): Promise<RunningGateway> {
  const g = await startGateway({ ...opts, config: { ...CONFIG, ...(opts.config ?? {}) } });
  cleanups.push(() => g.stop());
  return g;
}

async function redisServer(opts: Parameters<typeof startRedis>[0]): Promise<RedisHandle> {
  const r = await startRedis(opts);
  cleanups.push(() => r.stop());
  return r;
}

function track(c: TestClient): TestClient {
  cleanups.push(() => c.close());
  return c;
}

async function buyer(g: RunningGateway, id: string, shop = 'shop-1') {
  const c = track(await TestClient.connect(g.url, 'buyer', await g.token({ sub: id, kind: 'buyer', shop })));
  const welcome = await c.next('welcome');
  return { c, sessionId: welcome.sessionId as string, welcome };
}

async function agent(g: RunningGateway, id: string, roles: string[] | null, capacity = 5, shop = 'shop-1') {
  const c = track(await TestClient.connect(g.url, 'agent', await g.token({ sub: id, kind: 'agent', shop })));
  const welcome = await c.next('welcome');
  if (roles) c.send({ type: 'ready', roles, capacity });
  return { c, welcome };
}

/** A buyer that said its first line and an agent that accepted it: a chat in `assigned`. */
async function assignedChat(g: RunningGateway, buyerId: string, agentId: string) {
  const { c: b, sessionId } = await buyer(g, buyerId);
  b.send({ type: 'message', clientMsgId: 'first', text: 'hello, is this in stock?' });
  expect(await b.next('ack')).toMatchObject({ clientMsgId: 'first', seq: 1 });
  await b.next('queue');
  const { c: a } = await agent(g, agentId, ['pre-sale'], 5);
  await a.next('offer', (f) => f.sessionId === sessionId);
  a.send({ type: 'accept', sessionId });
  await a.next('assigned', (f) => f.sessionId === sessionId);
  return { b, a, sessionId };
}

async function status(url: string, timeoutMs = 2_000): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })).status;
  } catch {
    return 0; // no answer in time
  }
}

/** A short-lived side connection to one redis-server, for looking at it from outside the gateway. */
async function withRedis<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

async function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
}

/** kill -9: no shutdown, no final fsync; whatever the AOF has on disk is what comes back. */
async function sigkill(redis: RedisHandle): Promise<void> {
  const info = await withRedis(redis.port, (r) => r.info('server'));
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  expect(pid).toBeGreaterThan(0);
  process.kill(pid, 'SIGKILL');
  await until(() => portClosed(redis.port), 5_000, 'redis-server gone after SIGKILL');
}

/** SHUTDOWN, as an operator restarting Redis would: the AOF is flushed and fsynced first. */
async function shutdown(redis: RedisHandle): Promise<void> {
  await withRedis(redis.port, (r) => r.call('SHUTDOWN').catch(() => 'closed'));
  await until(() => portClosed(redis.port), 5_000, 'redis-server gone after SHUTDOWN');
}

/** Resolves once the gateway has re-subscribed to these channels after a restart of Redis. */
async function subscribed(port: number, channels: string[], ms = 10_000): Promise<void> {
  await until(
    async () => {
      try {
        const reply = (await withRedis(port, (r) => r.call('PUBSUB', 'NUMSUB', ...channels))) as (string | number)[];
        return channels.every((_, i) => Number(reply[2 * i + 1]) >= 1);
      } catch {
        return false;
      }
    },
    ms,
    `subscriptions to ${channels.join(', ')}`,
  );
}

// ---------------------------------------------------------------------------
// A ledger of every message a buyer and an agent send and what the gateway answered.
// ---------------------------------------------------------------------------

type Side = 'buyer' | 'agent';
interface Line {
  side: Side;
  id: string;
  text: string;
  /** Every seq acked for this clientMsgId (resends included): must all be the same. */
  acks: number[];
  errors: string[];
}

class Ledger {
  readonly lines = new Map<string, Line>();
  /** Transcript `message` frames each side received live, by seq. */
  readonly heard: Record<Side, Map<number, Record<string, any>>> = { buyer: new Map(), agent: new Map() };
  readonly errors: { side: Side; code: string; ref?: string; at: number }[] = [];
  private n = 0;

  constructor(
    private readonly clients: Record<Side, TestClient>,
    private readonly sessionId: string,
  ) {
    for (const side of ['buyer', 'agent'] as const) {
      clients[side].ws.on('message', (data) => {
        const f = JSON.parse(String(data)) as Record<string, any>;
        if (f.type === 'ack') this.lines.get(f.clientMsgId)?.acks.push(f.seq);
        else if (f.type === 'error') {
          this.errors.push({ side, code: f.code, ref: f.ref, at: Date.now() });
          this.lines.get(f.ref)?.errors.push(f.code);
        } else if (f.type === 'message' && f.sessionId === this.sessionId) this.heard[side].set(f.seq, f);
      });
    }
  }

  /** Sends a new line from `side`; texts are unique so the transcript can be matched exactly. */
  say(side: Side): Line {
    const i = ++this.n;
    const line: Line = { side, id: `${side[0]}-${i}`, text: `${side} line ${i}`, acks: [], errors: [] };
    this.lines.set(line.id, line);
    this.send(line);
    return line;
  }

  /** (Re)sends a line with its original clientMsgId, as a client does after `unavailable`. */
  send(line: Line): void {
    const c = this.clients[line.side];
    if (line.side === 'buyer') c.send({ type: 'message', clientMsgId: line.id, text: line.text });
    else c.send({ type: 'message', sessionId: this.sessionId, clientMsgId: line.id, text: line.text });
  }

  /** Seqs `side` holds: its own acked lines, what it heard, and the chat's first two events. */
  known(side: Side): Set<number> {
    const own = [...this.lines.values()].filter((l) => l.side === side && l.acks.length).map((l) => l.acks[0]!);
    return new Set([1, 2, ...own, ...this.heard[side].keys()]);
  }

  /**
   * Resolves once both sides hold every seq the store has, without asking: after the bus
   * re-subscribes, the gateway replays to each open connection what it missed.
   */
  async caughtUp(): Promise<void> {
    const contiguous = (s: Set<number>) => {
      let n = 0;
      while (s.has(n + 1)) n++;
      return n;
    };
    const all = Math.max(...[...this.lines.values()].flatMap((l) => l.acks));
    await until(() => contiguous(this.known('buyer')) >= all && contiguous(this.known('agent')) >= all, 5_000, 'both sides caught up');
  }

  acked(): Line[] {
    return [...this.lines.values()].filter((l) => l.acks.length > 0);
  }

  unacked(): Line[] {
    return [...this.lines.values()].filter((l) => l.acks.length === 0);
  }

  /** Resends every unacked line every `everyMs` until all are acked. */
  async settle(ms = 15_000, everyMs = 400): Promise<void> {
    const end = Date.now() + ms;
    while (this.unacked().length) {
      if (Date.now() > end) throw new Error(`still unacked after ${ms} ms: ${this.unacked().map((l) => `${l.id} [${l.errors.join(',')}]`).join(' ')}`);
      for (const l of this.unacked()) this.send(l);
      await sleep(everyMs);
    }
  }
}

/**
 * Runs a chat with both sides talking every `intervalMs` (not waiting for acks), calls `fault`
 * once `faultAfter` lines are acked, keeps talking `talkDuringMs` into the outage, then lets the
 * caller restart Redis. Returns the ledger and when the fault began.
 */
async function chatThroughFault(
  ledger: Ledger,
  o: { intervalMs: number; faultAfter: number; talkDuringMs: number; fault: () => Promise<void> },
): Promise<{ faultAt: number; ackedBeforeFault: number; sentDuringOutage: number }> {
  let side: Side = 'buyer';
  const talk = () => {
    ledger.say(side);
    side = side === 'buyer' ? 'agent' : 'buyer';
  };
  while (ledger.acked().length < o.faultAfter) {
    talk();
    await sleep(o.intervalMs);
  }
  // Lines are still in flight here: some are stored and acked, some stored with the ack lost.
  const faultAt = Date.now();
  const ackedBeforeFault = ledger.acked().length;
  const faulting = o.fault();
  let sentDuringOutage = 0;
  while (Date.now() - faultAt < o.talkDuringMs) {
    talk();
    sentDuringOutage++;
    await sleep(o.intervalMs);
  }
  await faulting;
  return { faultAt, ackedBeforeFault, sentDuringOutage };
}

/** Acked lines the transcript does not have at their acked seq (gone, or the seq reused by another line). */
async function lostLines(g: RunningGateway, ledger: Ledger, sessionId: string) {
  const stored = await g.gateway.deps.store.readEvents('shop-1', sessionId, 0);
  const bySeq = new Map(stored.map((e) => [e.seq, e]));
  const lost = ledger.acked().filter((l) => {
    const e = bySeq.get(l.acks[0]!);
    return !e || e.text !== l.text || e.from !== l.side;
  });
  return { stored, lost };
}

/**
 * Zero loss, checked three ways: the store's transcript has every acked line at its acked seq
 * with its text, and nothing twice; a new buyer connection resumes the same session with
 * every shop line; a second agent connection replays the full transcript.
 */
async function expectNothingLost(g: RunningGateway, ledger: Ledger, sessionId: string, buyerId: string, agentId: string) {
  for (const l of ledger.acked()) expect(new Set(l.acks).size, `${l.id} acked with different seqs: ${l.acks}`).toBe(1);
  const { stored, lost } = await lostLines(g, ledger, sessionId);
  expect(stored.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1)); // 1..n, no hole
  expect(lost.map((l) => l.id)).toEqual([]);
  const texts = stored.map((e) => e.text);
  expect(texts.length).toBe(new Set(texts).size); // resends stored nothing twice

  const fresh = await buyer(g, buyerId);
  expect(fresh.sessionId).toBe(sessionId);
  expect(fresh.welcome.lastSeq).toBe(stored.length);
  fresh.c.send({ type: 'resume', lastSeq: 0 });
  const shopLines = stored.filter((e) => e.from !== 'buyer');
  const replayed = [];
  for (let i = 0; i < shopLines.length; i++) replayed.push(await fresh.c.next('message'));
  expect(replayed.map((m) => [m.seq, m.text])).toEqual(shopLines.map((e) => [e.seq, e.text]));

  const { c: a2, welcome } = await agent(g, agentId, null);
  expect(welcome.sessions).toContain(sessionId);
  a2.send({ type: 'resume', sessionId, lastSeq: 0 });
  const all = [];
  for (let i = 0; i < stored.length; i++) all.push(await a2.next('message'));
  expect(all.map((m) => [m.seq, m.from, m.text])).toEqual(stored.map((e) => [e.seq, e.from, e.text]));
  await Promise.all([fresh.c.close(), a2.close()]);
  return stored;
}

/** The same sockets carry on: a line each way is acked and delivered live. */
async function expectChatContinues(b: TestClient, a: TestClient, sessionId: string, tag: string) {
  b.send({ type: 'message', clientMsgId: `${tag}-b`, text: `${tag}: buyer again` });
  const bAck = await b.next('ack', (f) => f.clientMsgId === `${tag}-b`, 10_000);
  expect(await a.next('message', (f) => f.text === `${tag}: buyer again`, 5_000)).toMatchObject({ sessionId, seq: bAck.seq, from: 'buyer' });
  a.send({ type: 'message', sessionId, clientMsgId: `${tag}-a`, text: `${tag}: agent again` });
  const aAck = await a.next('ack', (f) => f.clientMsgId === `${tag}-a`, 10_000);
  expect(aAck.seq).toBe(bAck.seq + 1);
  expect(await b.next('message', (f) => f.text === `${tag}: agent again`, 5_000)).toMatchObject({ sessionId, seq: aAck.seq, from: 'agent' });
}

// ---------------------------------------------------------------------------

describe('Redis crash and restart with AOF', () => {
  it('kill -9 mid-chat (appendfsync always): every acked message survives, retries are idempotent, the chat goes on', async () => {
    const redis = await redisServer({ appendonly: true, appendfsync: 'always' });
    const keyPrefix = freshPrefix();
    const g = await gateway({ redisUrl: redis.url, keyPrefix });
    const { b, a, sessionId } = await assignedChat(g, 'crash-b', 'crash-a');
    const ledger = new Ledger({ buyer: b, agent: a }, sessionId);

    const t = await chatThroughFault(ledger, { intervalMs: 10, faultAfter: 40, talkDuringMs: 2_000, fault: () => sigkill(redis) });
    const downFor = Date.now() - t.faultAt;
    await redis.restart(); // same port, same dir: it replays the AOF
    const restartedAt = Date.now();
    await until(async () => (await status(`${g.http}/readyz`)) === 200, 10_000, 'ready after restart');
    const readyAfterMs = Date.now() - restartedAt;

    // While Redis was gone every failed frame was answered `unavailable`, nothing else.
    expect(t.sentDuringOutage).toBeGreaterThan(0);
    expect(ledger.errors.length).toBeGreaterThan(0);
    expect([...new Set(ledger.errors.map((e) => e.code))]).toEqual(['unavailable']);
    expect(ledger.errors.every((e) => ledger.lines.has(e.ref ?? ''))).toBe(true);

    // The gateway is subscribed again by itself; the clients resend what was not acked.
    await subscribed(redis.port, [channelOf(keyPrefix, { kind: 'buyer', shop: 'shop-1', id: 'crash-b' }), channelOf(keyPrefix, { kind: 'agent', shop: 'shop-1', id: 'crash-a' })]);
    const unackedAtRestart = ledger.unacked().length;
    await ledger.settle();

    // A line stored before the gateway had re-subscribed was published to nobody; once
    // subscribed again the gateway replays it to the open sockets by itself (no resume sent).
    await ledger.caughtUp();
    const stored = await expectNothingLost(g, ledger, sessionId, 'crash-b', 'crash-a');
    expect(stored.length).toBe(ledger.lines.size + 2); // every line once, plus the first line and the greeting
    await expectChatContinues(b, a, sessionId, 'after-crash');
    // Nobody was disconnected.
    expect([b.ws.readyState, a.ws.readyState]).toEqual([b.ws.OPEN, a.ws.OPEN]);
    expect([...b.violations, ...a.violations]).toEqual([]);
    console.info(
      `[fault] kill -9, appendfsync always: ${t.ackedBeforeFault} acked before the kill, ${ledger.lines.size} lines in all, ` +
        `${unackedAtRestart} unacked at restart (resent, idempotent), ${ledger.errors.length} unavailable errors, ` +
        `down ${downFor} ms, ready ${readyAfterMs} ms after restart, 0 acked lost, both sides caught up without resuming`,
    );
  }, 40_000);

  it('graceful SHUTDOWN (appendfsync everysec) loses nothing acked', async () => {
    const redis = await redisServer({ appendonly: true, appendfsync: 'everysec' });
    const keyPrefix = freshPrefix();
    const g = await gateway({ redisUrl: redis.url, keyPrefix });
    const { b, a, sessionId } = await assignedChat(g, 'grace-b', 'grace-a');
    const ledger = new Ledger({ buyer: b, agent: a }, sessionId);

    // SHUTDOWN right after a burst, well inside everysec's one-second fsync window.
    const t = await chatThroughFault(ledger, { intervalMs: 5, faultAfter: 60, talkDuringMs: 300, fault: () => shutdown(redis) });
    await redis.restart();
    await until(async () => (await status(`${g.http}/readyz`)) === 200, 10_000, 'ready after restart');
    expect([...new Set(ledger.errors.map((e) => e.code))]).toEqual(ledger.errors.length ? ['unavailable'] : []);
    await subscribed(redis.port, [channelOf(keyPrefix, { kind: 'buyer', shop: 'shop-1', id: 'grace-b' }), channelOf(keyPrefix, { kind: 'agent', shop: 'shop-1', id: 'grace-a' })]);
    await ledger.settle();
    await expectNothingLost(g, ledger, sessionId, 'grace-b', 'grace-a');
    await expectChatContinues(b, a, sessionId, 'after-shutdown');
    console.info(`[fault] SHUTDOWN, appendfsync everysec: ${t.ackedBeforeFault} acked before SHUTDOWN, ${ledger.lines.size} lines in all, 0 acked lost`);
  }, 40_000);

  // Not a CI test: what kill -9 costs with appendfsync everysec is up to the OS, so it is only
  // measured (PEAKDESK_FAULT_MEASURE=5 npx vitest run test/fault.test.ts -t everysec).
  // Redis write()s the AOF before it replies, so a killed process leaves its acked writes in the
  // page cache and loses nothing; the up-to-1-s window is a machine crash or power loss (the
  // fsync not done yet), or a write Redis postponed because the disk was slow to fsync.
  it.runIf(Number(process.env.PEAKDESK_FAULT_MEASURE) > 0)('measure: kill -9 with appendfsync everysec', async () => {
    const runs = Number(process.env.PEAKDESK_FAULT_MEASURE);
    for (let run = 1; run <= runs; run++) {
      const redis = await redisServer({ appendonly: true, appendfsync: 'everysec' });
      const g = await gateway({ redisUrl: redis.url });
      const { b, a, sessionId } = await assignedChat(g, `m-b${run}`, `m-a${run}`);
      const ledger = new Ledger({ buyer: b, agent: a }, sessionId);
      const t = await chatThroughFault(ledger, { intervalMs: 2, faultAfter: 300, talkDuringMs: 300, fault: () => sigkill(redis) });
      await redis.restart();
      await until(async () => (await status(`${g.http}/readyz`)) === 200, 10_000, 'ready after restart');
      await ledger.settle();
      const { lost } = await lostLines(g, ledger, sessionId);
      console.info(`[measure] kill -9, everysec, run ${run}: ${t.ackedBeforeFault} acked before the kill, ${lost.length} of them lost`);
      for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
    }
  }, 120_000);
});

describe('the gateway losing only its pub/sub connection', () => {
  it('replays to the open sockets what was published while it re-subscribed', async () => {
    const redis = await redisServer({});
    const g = await gateway({ redisUrl: redis.url });
    const { b, a, sessionId } = await assignedChat(g, 'bus-b', 'bus-a');
    // Kill just the subscriber connection: the command connection keeps storing and
    // publishing, to nobody, until the gateway has subscribed again.
    const killed = await withRedis(redis.port, (r) => r.client('KILL', 'TYPE', 'pubsub'));
    expect(Number(killed)).toBeGreaterThan(0);
    const texts = Array.from({ length: 20 }, (_, i) => `said while re-subscribing ${i}`);
    for (const [i, text] of texts.entries()) a.send({ type: 'message', sessionId, clientMsgId: `gap-${i}`, text });
    for (let i = 0; i < texts.length; i++) await a.next('ack', (f) => f.clientMsgId === `gap-${i}`);
    // Everything arrives on the buyer's open socket, once each, in order, without a resume.
    await until(() => texts.every((t) => b.all('message').some((m) => m.text === t)), 5_000, 'all lines on the open socket');
    const seqs = b.all('message').map((m) => m.seq as number);
    expect(seqs).toEqual([...new Set(seqs)].sort((x, y) => x - y));
    expect(b.frames.some((f) => f.type === 'welcome' && f !== b.frames[0])).toBe(false);
  });
});

describe('Redis down for 5 s', () => {
  it('keeps the process and the sockets up, answers `unavailable`, and carries on when Redis is back', async () => {
    // everysec + SIGTERM (a graceful stop) keeps the state, so the same chat resumes.
    const redis = await redisServer({ appendonly: true, appendfsync: 'everysec' });
    const keyPrefix = freshPrefix();
    const g = await gateway({ redisUrl: redis.url, keyPrefix });
    const { b, a, sessionId } = await assignedChat(g, 'out-b', 'out-a');
    let bClosed = false;
    let aClosed = false;
    void b.closed.then(() => (bClosed = true));
    void a.closed.then(() => (aClosed = true));
    expect(await status(`${g.http}/readyz`)).toBe(200);

    // Probe the HTTP endpoints all along, as a load balancer and an orchestrator would
    // (1 s timeout, like a Kubernetes probe: no answer in time counts as a failure).
    const probes: { at: number; healthz: number; readyz: number }[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const at = Date.now();
        const [healthz, readyz] = await Promise.all([status(`${g.http}/healthz`), status(`${g.http}/readyz`, 1_000)]);
        probes.push({ at, healthz, readyz });
        await sleep(100);
      }
    })();

    await redis.kill();
    const downAt = Date.now();

    // Frames during the outage: answered `unavailable` (ref = the clientMsgId), not dropped.
    b.send({ type: 'message', clientMsgId: 'during-b', text: 'are you still there?' });
    a.send({ type: 'message', sessionId, clientMsgId: 'during-a', text: 'one moment please' });
    const errB = await b.next('error', (f) => f.ref === 'during-b', 5_000);
    const errA = await a.next('error', (f) => f.ref === 'during-a', 5_000);
    expect([errB.code, errA.code]).toEqual(['unavailable', 'unavailable']);
    const unavailableAfterMs = Date.now() - downAt;
    // The connection itself is alive: ping needs no store.
    b.send({ type: 'ping' });
    await b.next('pong', () => true, 1_000);
    // A new connection while Redis is down is refused politely: `unavailable`, close 1013 (try again later).
    const refused = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'out-new', kind: 'buyer' }));
    expect(await refused.next('error', () => true, 8_000)).toMatchObject({ code: 'unavailable' });
    expect((await refused.closed).code).toBe(1013);

    // Late in the outage ioredis retries only every 2 s: a frame may wait for that before its
    // `unavailable` (or, if Redis is back first, be served). Either is fine; measured below.
    await sleep(Math.max(0, downAt + 3_500 - Date.now()));
    const lateAt = Date.now();
    b.send({ type: 'message', clientMsgId: 'late-b', text: 'hello??' });
    const late = Promise.race([b.next('error', (f) => f.ref === 'late-b', 15_000), b.next('ack', (f) => f.clientMsgId === 'late-b', 15_000)]).then(
      (f) => `${f.type === 'ack' ? 'acked' : f.code} after ${Date.now() - lateAt} ms`,
    );

    await sleep(Math.max(0, downAt + 5_000 - Date.now()));
    const upAt = Date.now();
    await redis.restart();
    await until(async () => (await status(`${g.http}/readyz`)) === 200, 10_000, 'ready after the outage');
    const readyAt = Date.now();
    probing = false;
    await prober;
    expect(await status(`${g.http}/readyz`, 1_000)).toBe(200);
    const lateOutcome = await late;

    // /healthz never failed; /readyz said 503 while Redis was down, 200 before and after.
    expect(probes.filter((p) => p.healthz !== 200)).toEqual([]);
    const during = probes.filter((p) => p.at >= downAt + 1_000 && p.at < upAt);
    expect(during.length).toBeGreaterThan(5);
    expect(during.filter((p) => p.readyz !== 503)).toEqual([]);

    // The sockets were never closed by the server.
    expect([bClosed, aClosed]).toEqual([false, false]);
    expect([b.ws.readyState, a.ws.readyState]).toEqual([b.ws.OPEN, a.ws.OPEN]);

    // Back: the gateway re-subscribed by itself; retried lines are stored once and delivered.
    await subscribed(redis.port, [channelOf(keyPrefix, { kind: 'buyer', shop: 'shop-1', id: 'out-b' }), channelOf(keyPrefix, { kind: 'agent', shop: 'shop-1', id: 'out-a' })]);
    const resubscribedAt = Date.now();
    b.send({ type: 'message', clientMsgId: 'during-b', text: 'are you still there?' });
    const ackB = await b.next('ack', (f) => f.clientMsgId === 'during-b', 10_000);
    expect(await a.next('message', (f) => f.seq === ackB.seq, 5_000)).toMatchObject({ text: 'are you still there?' });
    a.send({ type: 'message', sessionId, clientMsgId: 'during-a', text: 'one moment please' });
    const ackA = await a.next('ack', (f) => f.clientMsgId === 'during-a', 10_000);
    expect(await b.next('message', (f) => f.seq === ackA.seq, 5_000)).toMatchObject({ text: 'one moment please' });
    await expectChatContinues(b, a, sessionId, 'after-outage');
    const stored = await g.gateway.deps.store.readEvents('shop-1', sessionId, 0);
    expect(stored.filter((e) => e.text === 'are you still there?')).toHaveLength(1);

    // New connections work: a new buyer queues and is offered to the agent.
    const { c: nb, sessionId: newSession } = await buyer(g, 'out-new');
    nb.send({ type: 'message', clientMsgId: 'n1', text: 'hi, new here' });
    await nb.next('ack');
    expect(await a.next('offer', (f) => f.sessionId === newSession, 5_000)).toMatchObject({ role: 'pre-sale' });
    expect([...b.violations, ...a.violations, ...nb.violations]).toEqual([]);
    console.info(
      `[fault] 5 s outage: first unavailable ${unavailableAfterMs} ms after the stop; a frame sent 3.5 s in: ${lateOutcome}; ` +
        `ready ${readyAt - upAt} ms and subscriptions back ${resubscribedAt - upAt} ms after the restart; ` +
        `${probes.length} probes (${during.length} while down, all 503), healthz always 200`,
    );
  }, 40_000);
});

// ---------------------------------------------------------------------------

describe('Redis Cluster (3 masters)', () => {
  it('runs the full chat lifecycle, several shops on different masters, and the admin API', async () => {
    const cluster = await startRedisCluster();
    cleanups.push(() => cluster.stop());
    const clusterNodes = cluster.nodes.map((n) => `${n.host}:${n.port}`);
    const keyPrefix = freshPrefix();
    // Buyers on one instance, agents mostly on the other: events cross over cluster pub/sub.
    const g1 = await gateway({ clusterNodes, keyPrefix });
    const g2 = await gateway({ clusterNodes, keyPrefix });

    // --- Which master serves which shop: pick shops until all three masters have one.
    const ownerOf = new Map<string, number>(); // shop → port of the master holding its slot
    await withRedis(cluster.nodes[0]!.port, async (r) => {
      const slots = (await r.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]]][];
      for (let i = 1; i <= 40 && new Set(ownerOf.values()).size < 3; i++) {
        const shop = `shop-${i}`;
        const slot = Number(await r.call('CLUSTER', 'KEYSLOT', `${shopPrefix(keyPrefix, shop)}s:any`));
        const owner = slots.find(([from, to]) => slot >= from && slot <= to)![2][1];
        if (shop === 'shop-1' || ![...ownerOf.values()].includes(owner)) ownerOf.set(shop, owner);
      }
    });
    const shops = [...ownerOf.keys()];
    expect(new Set(ownerOf.values()).size).toBe(3);

    // --- The full lifecycle in shop-1: queue → offer → accept → both ways → transfer →
    // second agent with the full transcript → close → rating → goodbye → closed.
    const { c: b, sessionId } = await buyer(g1, 'cl-buyer');
    b.send({ type: 'message', clientMsgId: 'b1', text: '你好，这件有货吗？' });
    expect(await b.next('ack')).toMatchObject({ clientMsgId: 'b1', seq: 1 });
    expect(await b.next('queue')).toMatchObject({ sessionId, role: 'pre-sale', position: 1 });
    expect(await b.next('message', (m) => m.from === 'bot')).toMatchObject({ seq: 2 }); // the greeting

    // Other shops: one waiting buyer each, so the admin API has queues on every master.
    const others = await Promise.all(
      shops.filter((s) => s !== 'shop-1').map(async (shop) => {
        const { c, sessionId: sid } = await buyer(g1, `buyer-of-${shop}`, shop);
        c.send({ type: 'message', clientMsgId: 'q1', text: 'hello' });
        await c.next('ack');
        await c.next('queue');
        return { shop, c, sessionId: sid };
      }),
    );

    // Sharded pub/sub: a buyer's channel is subscribed on its shop's own master only.
    for (const [shop, port] of ownerOf) {
      const id = shop === 'shop-1' ? 'cl-buyer' : `buyer-of-${shop}`;
      const channel = channelOf(keyPrefix, { kind: 'buyer', shop, id });
      for (const node of cluster.nodes) {
        const [, count] = await withRedis(node.port, (r) => r.call('PUBSUB', 'SHARDNUMSUB', channel) as Promise<[string, number]>);
        expect(count, `${channel} on ${node.port}`).toBe(node.port === port ? 1 : 0);
      }
    }

    // Every shop's queues and the shared config: a platform admin's business.
    const admin = await g1.token({ sub: 'ops', kind: 'admin', scope: 'platform' });
    const api = async (g: RunningGateway, method: 'GET' | 'PUT', path: string, body?: unknown, ifMatch?: string) => {
      const res = await fetch(`${g.http}${path}`, {
        method,
        headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}), ...(ifMatch ? { 'if-match': ifMatch } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, etag: res.headers.get('etag') ?? undefined, body: (await res.json()) as any };
    };
    const queues = await api(g2, 'GET', '/v1/admin/queues?shop=*');
    expect(queues.status).toBe(200);
    for (const shop of shops) {
      expect(queues.body.queues.find((q: any) => q.shop === shop && q.role === 'pre-sale'), shop).toMatchObject({ depth: 1 });
    }

    const { c: pre } = await agent(g2, 'cl-pre', ['pre-sale'], 2);
    const offer = await pre.next('offer', (f) => f.sessionId === sessionId);
    expect(offer.preview.map((e: any) => e.from)).toEqual(['buyer', 'bot']);
    pre.send({ type: 'accept', sessionId });
    expect((await pre.next('assigned', (f) => f.sessionId === sessionId)).transcript.map((e: any) => e.seq)).toEqual([1, 2]);
    pre.send({ type: 'message', sessionId, clientMsgId: 'p1', text: '有货的亲，今天下单明天发' });
    expect(await pre.next('ack')).toMatchObject({ clientMsgId: 'p1', seq: 3 });
    expect(await b.next('message', (m) => m.seq === 3)).toMatchObject({ from: 'agent', text: '有货的亲，今天下单明天发' });
    b.send({ type: 'message', clientMsgId: 'b2', text: '收到货想退，可以吗' });
    expect(await b.next('ack', (f) => f.clientMsgId === 'b2')).toMatchObject({ seq: 4 });
    expect(await pre.next('message', (m) => m.seq === 4)).toMatchObject({ from: 'buyer', text: '收到货想退，可以吗' });

    const { c: after } = await agent(g1, 'cl-after', ['after-sale'], 2);
    pre.send({ type: 'transfer', sessionId, toRole: 'after-sale', note: '七天无理由退货' });
    expect(await pre.next('session_closed')).toMatchObject({ sessionId, reason: 'transferred' });
    expect(await b.next('handover')).toMatchObject({ sessionId, fromRole: 'pre-sale', toRole: 'after-sale' });
    const handoverLine = await b.next('message', (m) => m.kind === 'handover');
    await after.next('offer', (f) => f.sessionId === sessionId);
    after.send({ type: 'accept', sessionId });
    const assigned = await after.next('assigned', (f) => f.sessionId === sessionId);
    expect(assigned).toMatchObject({ role: 'after-sale', note: '七天无理由退货', roleHistory: ['pre-sale', 'after-sale'] });
    const stored = await g1.gateway.deps.store.readEvents('shop-1', sessionId, 0);
    expect(assigned.transcript.map((e: any) => [e.seq, e.from, e.text])).toEqual(stored.map((e) => [e.seq, e.from, e.text]));
    expect(assigned.transcript.at(-1)).toMatchObject({ seq: handoverLine.seq, kind: 'handover' });
    after.send({ type: 'message', sessionId, clientMsgId: 'x1', text: '亲，可以退的，我给您登记' });
    const x1 = await after.next('ack');
    expect(await b.next('message', (m) => m.seq === x1.seq)).toMatchObject({ from: 'agent' });

    after.send({ type: 'close', sessionId });
    expect(await after.next('session_closed')).toMatchObject({ sessionId, reason: 'agent_closed' });
    await b.next('message', (m) => m.kind === 'rating_invite');
    b.send({ type: 'rate', score: 5, comment: '很快' });
    await b.next('message', (m) => m.kind === 'goodbye');
    expect(await b.next('closed')).toMatchObject({ sessionId, reason: 'agent_closed' });
    expect(await g2.gateway.deps.store.getSession('shop-1', sessionId)).toMatchObject({ state: 'closed', rating: 5, lastAgentId: 'cl-after' });
    expect(await g2.gateway.deps.store.getAgent('shop-1', 'cl-after')).toMatchObject({ ratingSum: 5, ratingCount: 1, load: 0 });
    const heard = b.all('message').map((m) => m.seq);
    expect(heard).toEqual([...new Set(heard)].sort((x, y) => x - y)); // in order, none twice

    // --- Each other shop: its agent takes its buyer and they talk, across the two instances.
    await Promise.all(
      others.map(async ({ shop, c, sessionId: sid }) => {
        const { c: ag } = await agent(g2, `agent-of-${shop}`, ['pre-sale'], 1, shop);
        await ag.next('offer', (f) => f.sessionId === sid);
        ag.send({ type: 'accept', sessionId: sid });
        await ag.next('assigned');
        ag.send({ type: 'message', sessionId: sid, clientMsgId: 'r1', text: `hi from ${shop}` });
        await ag.next('ack');
        expect(await c.next('message', (m) => m.from === 'agent')).toMatchObject({ text: `hi from ${shop}` });
        c.send({ type: 'message', clientMsgId: 'q2', text: 'thanks' });
        await c.next('ack', (f) => f.clientMsgId === 'q2');
        expect(await ag.next('message', (m) => m.from === 'buyer' && m.text === 'thanks')).toMatchObject({ sessionId: sid });
        expect([...c.violations, ...ag.violations]).toEqual([]);
      }),
    );

    // --- Every shop's keys live on the one master that owns its slot; shops span all three.
    const keysOn = await Promise.all(cluster.nodes.map((n) => withRedis(n.port, (r) => r.keys(`${keyPrefix}:*`))));
    for (const shop of shops) {
      const tag = shopPrefix(keyPrefix, shop);
      const holders = cluster.nodes.filter((_, i) => keysOn[i]!.some((k) => k.startsWith(tag))).map((n) => n.port);
      expect(holders, shop).toEqual([ownerOf.get(shop)]);
    }

    // --- Admin config roll-out over the cluster: PUT on one instance, the other follows.
    const before = await api(g1, 'GET', '/v1/admin/config');
    expect(before.status).toBe(200);
    const next = structuredClone(before.body.config);
    next.intent.rules.unshift({ role: 'after-sale', keywords: ['赠品'], patterns: [] });
    const put = await api(g1, 'PUT', '/v1/admin/config', next, before.etag);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.version).not.toBe(before.body.version);
    // Within 2 s, so over cluster pub/sub, not the instances' 5-s re-check of the version.
    const putAt = Date.now();
    await until(async () => (await api(g2, 'GET', '/v1/admin/config')).body.version === put.body.version, 2_000, 'the other instance on the new config');
    const rolledOutMs = Date.now() - putAt;
    const { c: gift } = await buyer(g2, 'cl-gift');
    gift.send({ type: 'message', clientMsgId: 'g1', text: '赠品什么时候发' });
    expect(await gift.next('queue')).toMatchObject({ role: 'after-sale' });
    const bad = await api(g1, 'PUT', '/v1/admin/config', { routing: { defaultRole: 'nope' } }, put.etag);
    expect(bad.status).toBe(400);
    expect((await api(g2, 'GET', '/v1/admin/config')).body.version).toBe(put.body.version);

    expect([...b.violations, ...pre.violations, ...after.violations]).toEqual([]);
    console.info(
      `[fault] cluster: shops ${shops.map((s) => `${s}@${ownerOf.get(s)}`).join(', ')}; ` +
        `keys per master ${keysOn.map((k) => k.length).join('/')}; config rolled out to the other instance in ${rolledOutMs} ms`,
    );
  }, 45_000);
});
