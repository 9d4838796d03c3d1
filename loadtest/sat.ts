/**
 * The saturation pattern used for throughput ceilings: `pairs` buyers each chatting with an
 * agent, every buyer keeping one line in flight (the next goes when the agent got the last,
 * and never faster than `rate` per second). Run against the gateway it gives the gateway's
 * message throughput; against the bare ws relay (echo-server.ts) the raw ceiling of the
 * same pattern on the same machine, clients and Node.
 */
import { performance } from 'node:perf_hooks';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { io as ioClient, type Socket as IoSocket } from 'socket.io-client';
import { newHist, recordMs, encodeHist } from './stats.ts';
import type { SatRequest, SatResult } from './types.ts';

interface Pair {
  idx: number;
  ws: WebSocket | undefined;
  /** The Socket.IO peer's buyer socket (target socketio) instead of `ws`. */
  io?: IoSocket;
  sid: string;
  ready: boolean;
  inflight: number;
  lastSentAt: number;
  n: number;
  timer: NodeJS.Timeout | undefined;
}

const TEXT = '那黑色的也有货吗？';
const FIRST = '在吗？这款有优惠吗';
const CAPACITY = 50;
const PAIRS_PER_SHOP = 100;

export async function runSaturation(req: SatRequest, rand: () => number) {
  const key = new TextEncoder().encode(req.secret);
  const errors: Record<string, number> = {};
  const hist = newHist();
  const pairs: Pair[] = [];
  const bySid = new Map<string, Pair>();
  const agentSockets: WebSocket[] = [];
  const ioSockets: IoSocket[] = [];
  const agentSessions = new Map<WebSocket, Set<string>>();
  let addr = 0;
  let sending = false;
  let windowStart = Infinity;
  let windowEnd = -Infinity;
  let delivered = 0;
  let acked = 0;
  const minGap = 1000 / req.rate;
  let readyCount = 0;
  const setup = { connected: 0, welcomed: 0, offers: 0, assigned: 0, greeted: 0, failed: 0 };
  let onAllReady: (() => void) | undefined;

  // Pairs are spread over shops of PAIRS_PER_SHOP, so that no shop's own rate limit
  // (server.buyerLimits.perShop, 1,000 lines/s by default) is what the ceiling measures.
  const shopOf = (pair: number) => `${req.shop}-s${Math.floor(pair / PAIRS_PER_SHOP)}`;
  const token = (sub: string, kind: 'buyer' | 'agent', shop: string) =>
    new SignJWT({ shop, kind }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).sign(key);
  /** The handler goes on before the upgrade completes: the first frame can share its TCP read. */
  const open = (url: string, headers: Record<string, string>, onMessage: (ws: WebSocket, data: WebSocket.RawData) => void) => {
    const localAddress = req.localAddresses[addr++ % req.localAddresses.length];
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
    ws.on('error', () => {});
    ws.on('message', (data) => onMessage(ws, data));
    return new Promise<WebSocket>((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  };
  const countError = (f: { type: string; code?: unknown }) => {
    if (f.type === 'error') errors[String(f.code)] = (errors[String(f.code)] ?? 0) + 1;
  };

  const markReady = (p: Pair) => {
    if (p.ready) return;
    p.ready = true;
    readyCount++;
    if (readyCount === req.pairs) onAllReady?.();
  };

  const sendNext = (p: Pair) => {
    p.timer = undefined;
    if (!sending) return;
    if (p.io) {
      if (!p.io.connected) return;
    } else if (!p.ws || p.ws.readyState !== p.ws.OPEN) return;
    const now = performance.now();
    const wait = p.lastSentAt + minGap - now;
    if (wait > 0.5) {
      p.timer = setTimeout(() => sendNext(p), wait);
      return;
    }
    p.lastSentAt = now;
    p.inflight = now;
    const clientMsgId = `${p.idx}:${++p.n}`;
    if (p.io) {
      p.io.emit('message', { type: 'message', clientMsgId, text: TEXT }, () => {
        if (sending) acked++;
      });
      return;
    }
    p.ws!.send(JSON.stringify({ type: 'message', clientMsgId, text: TEXT }));
  };

  const deliveredTo = (p: Pair | undefined) => {
    if (!p || !p.inflight) return;
    const now = performance.now();
    if (now >= windowStart && now <= windowEnd) {
      delivered++;
      recordMs(hist, now - p.inflight);
    }
    p.inflight = 0;
    sendNext(p);
  };

  /** Connects the buyers 100 at a time: `connect` opens pair `p`'s buyer socket(s). */
  const connectBuyers = async (connect: (p: Pair) => Promise<void>, onFail: () => void) => {
    for (let k = 0; k < req.pairs; k += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, req.pairs - k) }, async (_, i) => {
          const p: Pair = { idx: k + i, ws: undefined, sid: '', ready: false, inflight: 0, lastSentAt: 0, n: 0, timer: undefined };
          pairs[k + i] = p;
          await connect(p);
        }).map((x) => x.catch(onFail)),
      );
    }
  };
  /** The relays carry the frame as is: its clientMsgId (`<pair>:<n>`) names the pair. */
  const pairOf = (clientMsgId: string) => pairs[Number(clientMsgId.slice(0, clientMsgId.indexOf(':')))];

  if (req.target === 'gateway') {
    // Each shop gets a little spare capacity, so every buyer gets an agent at once.
    const perShop = Math.ceil(Math.min(PAIRS_PER_SHOP, req.pairs) / CAPACITY) + 1;
    const nAgents = Math.ceil(req.pairs / PAIRS_PER_SHOP) * perShop;
    for (let j = 0; j < nAgents; j++) {
      const mine = new Set<string>();
      const shop = shopOf(Math.floor(j / perShop) * PAIRS_PER_SHOP);
      const ws = await open(`${req.url}/v1/agent`, { authorization: `Bearer ${await token(`sat-agent-${j}`, 'agent', shop)}` }, (ws, data) => {
        const f = JSON.parse(data.toString()) as { type: string; sessionId: string; from?: string; code?: unknown };
        countError(f);
        if (f.type === 'offer') {
          setup.offers++;
          ws.send(JSON.stringify({ type: 'accept', sessionId: f.sessionId }));
        } else if (f.type === 'assigned') {
          setup.assigned++;
          mine.add(f.sessionId);
          ws.send(JSON.stringify({ type: 'message', sessionId: f.sessionId, clientMsgId: 'hello', text: '亲，在的，请问有什么可以帮您？' }));
        } else if (f.type === 'message' && f.from === 'buyer') deliveredTo(bySid.get(f.sessionId));
      });
      agentSessions.set(ws, mine);
      ws.send(JSON.stringify({ type: 'ready', roles: ['pre-sale'], capacity: CAPACITY }));
      agentSockets.push(ws);
    }
    await connectBuyers(
      async (p) => {
        const tok = await token(`sat-buyer-${p.idx}`, 'buyer', shopOf(p.idx));
        const ws = await open(`${req.url}/v1/buyer`, { authorization: `Bearer ${tok}` }, (ws, data) => {
          const f = JSON.parse(data.toString()) as { type: string; sessionId: string; from?: string; code?: unknown };
          countError(f);
          if (f.type === 'welcome') {
            setup.welcomed++;
            p.sid = f.sessionId;
            bySid.set(f.sessionId, p);
            ws.send(JSON.stringify({ type: 'message', clientMsgId: 'first', text: FIRST }));
          } else if (f.type === 'message' && f.from === 'agent') {
            if (!p.ready) setup.greeted++;
            markReady(p);
          } else if (f.type === 'ack' && sending) acked++;
        });
        setup.connected++;
        p.ws = ws;
      },
      () => void setup.failed++,
    );
  } else if (req.target === 'socketio') {
    // The Socket.IO peer: agents and buyers in rooms, a line acked by Socket.IO's ack callback.
    const nAgents = Math.ceil(req.pairs / CAPACITY);
    const connectIo = (query: Record<string, string>) => {
      const localAddress = req.localAddresses[addr++ % req.localAddresses.length];
      const s = ioClient(req.url, { transports: ['websocket'], reconnection: false, query, forceNew: true, ...(localAddress ? { localAddress } : {}) } as Parameters<typeof ioClient>[1]);
      return new Promise<IoSocket>((resolve, reject) => {
        s.once('connect', () => resolve(s));
        s.once('connect_error', reject);
      });
    };
    for (let j = 0; j < nAgents; j++) {
      const s = await connectIo({ kind: 'agent', id: `${req.shop}-${j}` });
      s.on('message', (f: { clientMsgId: string }) => deliveredTo(pairOf(f.clientMsgId)));
      ioSockets.push(s);
    }
    await connectBuyers(
      async (p) => {
        const s = await connectIo({ kind: 'buyer', id: `${req.shop}-b${p.idx}`, agent: `${req.shop}-${p.idx % nAgents}` });
        ioSockets.push(s);
        p.io = s;
        markReady(p);
      },
      () => void setup.failed++,
    );
  } else {
    // The bare relay: a buyer's frame goes to its agent's socket as is, and back to the buyer as its "ack".
    const nAgents = Math.ceil(req.pairs / CAPACITY);
    for (let j = 0; j < nAgents; j++) {
      const ws = await open(`${req.url}/agent?id=${req.shop}-${j}`, {}, (_ws, data) => {
        deliveredTo(pairOf((JSON.parse(data.toString()) as { clientMsgId: string }).clientMsgId));
      });
      agentSockets.push(ws);
    }
    await connectBuyers(
      async (p) => {
        p.ws = await open(`${req.url}/buyer?agent=${req.shop}-${p.idx % nAgents}`, {}, (_ws, data) => {
          JSON.parse(data.toString()); // as a client reads its ack (the gateway's buyers parse every frame)
          if (sending) acked++;
        });
        markReady(p);
      },
      () => {},
    );
  }
  // Wait for every buyer to have its agent (gateway), at most 15 s.
  if (readyCount < pairs.filter(Boolean).length) {
    await new Promise<void>((resolve) => {
      onAllReady = resolve;
      setTimeout(resolve, 15_000);
    });
  }
  // Only ready pairs take part.
  const live = pairs.filter((p) => p?.ready);

  return {
    ready: live.length,
    async go(startAt: number, warmupMs: number, measureMs: number): Promise<Omit<SatResult, 'worker'>> {
      await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
      const t0 = performance.now();
      windowStart = t0 + warmupMs;
      windowEnd = windowStart + measureMs;
      sending = true;
      for (const p of live) p.timer = setTimeout(() => sendNext(p), rand() * minGap);
      let cpu0 = process.cpuUsage();
      let elu0 = performance.eventLoopUtilization();
      let wall0 = performance.now();
      await new Promise((r) => setTimeout(r, warmupMs));
      cpu0 = process.cpuUsage();
      elu0 = performance.eventLoopUtilization();
      wall0 = performance.now();
      await new Promise((r) => setTimeout(r, measureMs));
      const cpu = process.cpuUsage(cpu0);
      const elu = performance.eventLoopUtilization(elu0);
      const wall = performance.now() - wall0;
      sending = false;
      for (const p of live) clearTimeout(p.timer);
      await new Promise((r) => setTimeout(r, 300));
      // Leave the gateway clean: close the sessions, then the sockets.
      for (const [ws, sids] of agentSessions) for (const sid of sids) ws.send(JSON.stringify({ type: 'close', sessionId: sid }));
      if (agentSessions.size) await new Promise((r) => setTimeout(r, 1000));
      for (const p of pairs) p?.ws?.terminate();
      for (const ws of agentSockets) ws.terminate();
      for (const s of ioSockets) s.disconnect();
      return {
        target: req.target,
        ready: live.length,
        delivered,
        acked,
        measureMs: wall,
        hist: encodeHist(hist),
        errors,
        setup,
        cpu: { userMs: cpu.user / 1000, systemMs: cpu.system / 1000, wallMs: wall },
        elu: elu.utilization,
      };
    },
  };
}
