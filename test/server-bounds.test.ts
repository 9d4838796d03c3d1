/**
 * Bounds of the HTTP server and of WebSockets: slow or silent handshakes are closed within
 * `server.requestTimeoutMs`, idle keep-alive connections after `server.keepAliveTimeoutMs`,
 * one address cannot hold more than `server.maxUnauthenticatedPerAddress` unauthenticated
 * connections, and a peer that stops answering pings is dropped (agent grace starts).
 */
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';
import { READY_TIMEOUT_MS } from '../src/transport/http.ts';
import { boundConnections } from '../src/transport/server-bounds.ts';
import { Metrics } from '../src/metrics/metrics.ts';
import { createServer } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import { sender } from '../src/transport/sender.ts';

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const BOUND_MS = 400;

interface Raw {
  socket: net.Socket;
  /** ms from connect to close; rejects never. */
  closedAfter: Promise<number>;
  received: () => string;
}

async function raw(port: number, first?: string): Promise<Raw> {
  const socket = net.connect(port, '127.0.0.1');
  let data = '';
  socket.on('data', (d) => (data += d.toString()));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const start = Date.now();
  const closedAfter = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - start)));
  if (first) socket.write(first);
  return { socket, closedAfter, received: () => data };
}

/** Resolves with the time to close, or `null` when still open after `ms`. */
function closedWithin(r: Raw, ms: number): Promise<number | null> {
  return Promise.race([r.closedAfter, new Promise<null>((resolve) => setTimeout(() => resolve(null), ms))]);
}

describe('HTTP server bounds', () => {
  let g: RunningGateway;
  beforeAll(async () => {
    g = await startGateway({
      redisUrl: redis.url,
      config: { server: { requestTimeoutMs: BOUND_MS, keepAliveTimeoutMs: 300, maxUnauthenticatedPerAddress: 30 } },
    });
  });
  afterAll(async () => {
    await g?.stop();
  });

  it('closes slow-loris sockets (silent, partial headers dribbled) within the bound while real clients get through', async () => {
    const silent = await Promise.all(Array.from({ length: 8 }, () => raw(g.port)));
    const partial = await Promise.all(Array.from({ length: 8 }, () => raw(g.port, 'GET /v1/buyer HTTP/1.1\r\nHost: x\r\n')));
    // Keep the partial ones "busy": one more header line every 100 ms.
    const dribble = setInterval(() => partial.forEach((r, i) => !r.socket.destroyed && r.socket.write(`X-Pad-${i}: y\r\n`)), 100);
    try {
      // A real buyer and the probes are served meanwhile.
      const b = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'real-buyer', kind: 'buyer' }));
      await b.next('welcome');
      expect(await (await fetch(`${g.http}/healthz`)).json()).toEqual({ status: 'ok' });
      const times = await Promise.all([...silent, ...partial].map((r) => closedWithin(r, 5_000)));
      expect(times.every((t) => t !== null), `still open: ${times.filter((t) => t === null).length}`).toBe(true);
      // Not closed early either: they lived about the bound.
      expect(Math.min(...(times as number[]))).toBeGreaterThanOrEqual(BOUND_MS - 50);
      b.send({ type: 'ping' });
      await b.next('pong');
      await b.close();
    } finally {
      clearInterval(dribble);
    }
  });

  it('/readyz says 503 within its own timeout when the store freezes, instead of hanging', async () => {
    const own = await startRedis({ extraArgs: ['--enable-debug-command', 'yes'] });
    const gw = await startGateway({ redisUrl: own.url });
    const freezer = new Redis(own.url);
    try {
      await freezer.ping();
      expect((await fetch(`${gw.http}/readyz`)).status).toBe(200);
      const frozen = freezer.call('DEBUG', 'SLEEP', '5').catch(() => {});
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      expect((await fetch(`${gw.http}/readyz`)).status).toBe(503);
      expect(Date.now() - t0).toBeLessThan(READY_TIMEOUT_MS + 1_500);
      await frozen;
      await until(async () => (await fetch(`${gw.http}/readyz`)).status === 200, 5_000, 'ready again');
    } finally {
      freezer.disconnect();
      await gw.stop();
      await own.stop();
    }
  });

  it('answers a request line or headers past server.maxHeaderBytes with 431 (a long ?token= too)', async () => {
    const longQuery = await raw(g.port, `GET /v1/buyer?token=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
    expect(await closedWithin(longQuery, 2_000)).not.toBeNull();
    expect(longQuery.received()).toMatch(/^HTTP\/1\.1 431/);
    const manyHeaders = await raw(g.port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${'X-Pad: yyyyyyyyyyyyyyyy\r\n'.repeat(1_000)}\r\n`);
    expect(await closedWithin(manyHeaders, 2_000)).not.toBeNull();
    expect(manyHeaders.received()).toMatch(/^HTTP\/1\.1 431/);
  });

  it('closes a request whose body trickles in (an admin PUT) at the request bound', async () => {
    const admin = await g.token({ sub: 'ops', kind: 'admin', scope: 'platform' });
    const r = await raw(
      g.port,
      `PUT /v1/admin/config HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\nIf-Match: "x"\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{`,
    );
    const trickle = setInterval(() => !r.socket.destroyed && r.socket.write(' '), 50);
    try {
      const t = await closedWithin(r, 5_000);
      expect(t).not.toBeNull();
      expect(t!).toBeGreaterThanOrEqual(BOUND_MS - 50);
    } finally {
      clearInterval(trickle);
    }
  });

  it('closes an idle keep-alive connection after keepAliveTimeoutMs', async () => {
    const r = await raw(g.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    await until(() => r.received().includes('{"status":"ok"}'), 2_000, '/healthz answer');
    expect(await closedWithin(r, 5_000)).not.toBeNull();
  });

  it('caps unauthenticated connections per address; authenticated WebSockets do not count', async () => {
    // 10 buyers hold authenticated sockets: they leave room for 30 pending ones.
    const buyers = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const c = await TestClient.connect(g.url, 'buyer', await g.token({ sub: `cap-buyer-${i}`, kind: 'buyer' }));
        await c.next('welcome');
        return c;
      }),
    );
    const held = [];
    for (let i = 0; i < 30; i++) held.push(await raw(g.port));
    const over = await raw(g.port);
    // Refused at once, long before the request bound.
    expect(await closedWithin(over, BOUND_MS / 2)).not.toBeNull();
    expect(await Promise.all(held.slice(0, 5).map((r) => closedWithin(r, 10)))).toEqual([null, null, null, null, null]);
    // Once the held ones time out, a new client gets through again.
    await Promise.all(held.map((r) => r.closedAfter));
    const late = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'cap-late', kind: 'buyer' }));
    await late.next('welcome');
    const metrics = await (await fetch(`${g.http}/metrics`)).text();
    expect(metrics).toMatch(/peakdesk_connections_dropped_total\{reason="too_many_unauthenticated"\} [1-9]/);
    await Promise.all([...buyers, late].map((c) => c.close()));
  });
});

describe('live config', () => {
  it('a new server.requestTimeoutMs applies to connections from then on', async () => {
    const g = await startGateway({ redisUrl: redis.url });
    try {
      const authorization = `Bearer ${await g.token({ sub: 'ops', kind: 'admin', scope: 'platform' })}`;
      const got = await fetch(`${g.http}/v1/admin/config`, { headers: { authorization } });
      const patch = await fetch(`${g.http}/v1/admin/config`, {
        method: 'PATCH',
        headers: { authorization, 'content-type': 'application/merge-patch+json', 'if-match': got.headers.get('etag')! },
        body: JSON.stringify({ server: { requestTimeoutMs: BOUND_MS } }),
      });
      expect(patch.status).toBe(200);
      const silent = await raw(g.port);
      // The default would be 10 s; the new bound plus one check interval (at most 1 s).
      expect(await closedWithin(silent, 3_000)).not.toBeNull();
    } finally {
      await g.stop();
    }
  });
});

describe('WebSocket ping from the server', () => {
  it('terminates a frozen agent; after its grace its session goes to another agent; healthy peers stay', async () => {
    const g = await startGateway({
      redisUrl: redis.url,
      config: { server: { pingIntervalMs: 150 }, routing: { agentGraceMs: 300 } },
    });
    try {
      const frozen = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'frozen', kind: 'agent' }));
      await frozen.next('welcome');
      frozen.send({ type: 'ready', roles: ['pre-sale'], capacity: 1 });
      const b = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'waiting-buyer', kind: 'buyer' }));
      const { sessionId } = await b.next('welcome');
      b.send({ type: 'message', clientMsgId: 'm1', text: '你好，这件有货吗？' });
      await frozen.next('offer', (f) => f.sessionId === sessionId);
      frozen.send({ type: 'accept', sessionId });
      await frozen.next('assigned');

      // The process freezes: its socket stays open, but nothing is read, so no pong goes back.
      (frozen.ws as unknown as { _socket: net.Socket })._socket.pause();
      const other = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'other', kind: 'agent' }));
      await other.next('welcome');
      other.send({ type: 'ready', roles: ['pre-sale'], capacity: 1 });
      // Ping timeout (≤ 2 intervals) + grace (300 ms): the session is offered to the other agent.
      expect(await other.next('offer', (f) => f.sessionId === sessionId, 5_000)).toMatchObject({ sessionId });
      const metrics = await (await fetch(`${g.http}/metrics`)).text();
      expect(metrics).toMatch(/peakdesk_connections_dropped_total\{reason="ping_timeout"\} [1-9]/);

      // The buyer and the other agent answered every ping meanwhile and are still connected.
      b.send({ type: 'ping' });
      await b.next('pong');
      other.send({ type: 'ping' });
      await other.next('pong');
      await Promise.all([b.close(), other.close()]);
      frozen.ws.terminate();
    } finally {
      await g.stop();
    }
  });
});

describe('upgrade deadline', () => {
  it('closes a WebSocket upgrade whose handling never completes, and keeps one that completes', async () => {
    // An upgrade whose routing never finishes: Node stops timing a socket once it is an
    // upgrade, so only the deadline closes it. (The gateway's own routes answer at once.)
    const server = createServer();
    const wss = new WebSocketServer({ noServer: true });
    const metrics = new Metrics();
    boundConnections(server, wss, () => ({ requestTimeoutMs: BOUND_MS, keepAliveTimeoutMs: 1_000, maxUnauthenticatedPerAddress: 0, maxBodyBytes: 1_024, maxHeaderBytes: 16_384 }), metrics);
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/stuck') return;
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const upgrade = (path: string) =>
        `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
      const stuck = await raw(port, upgrade('/stuck'));
      const done = await raw(port, upgrade('/ok'));
      expect(await closedWithin(stuck, 3_000)).toBeGreaterThanOrEqual(BOUND_MS - 50);
      expect(await closedWithin(done, BOUND_MS)).toBeNull();
      expect(done.received()).toContain('101 Switching Protocols');
      expect(await metrics.registry.getSingleMetricAsString('peakdesk_connections_dropped_total')).toContain('reason="upgrade_timeout"} 1');
      done.socket.destroy();
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('outbound bytes waiting for a peer', () => {
  it('terminates a peer that stops reading once more than maxBufferedBytes wait for it; a reading peer gets everything', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const url = `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`;
    const open = async () => {
      const client = new WebSocket(url);
      const [server] = await Promise.all([
        new Promise<WebSocket>((r) => wss.once('connection', (ws) => r(ws))),
        new Promise<void>((r) => client.once('open', () => r())),
      ]);
      return { client, server };
    };
    const chunk = 'x'.repeat(6_000);
    const pump = async (send: (p: string) => void, server: WebSocket, bytes: number, paced = false) => {
      let sent = 0;
      for (let i = 0; sent < bytes && server.readyState === WebSocket.OPEN; i++) {
        send(chunk);
        sent += chunk.length;
        if (i % 20 === 0) await new Promise((r) => setImmediate(r));
        // A peer that reads keeps the buffer short when what is sent comes at a pace it can take.
        if (paced) while (server.bufferedAmount > 64 * 1_024) await new Promise((r) => setTimeout(r, 1));
      }
      return sent;
    };
    try {
      const max = 256 * 1_024;
      // Frozen: nothing is read, so after the kernel's buffers fill, bytes pile up here.
      const frozen = await open();
      (frozen.client as unknown as { _socket: net.Socket })._socket.pause();
      let overflows = 0;
      let peak = 0;
      const send = sender(frozen.server, { maxBufferedBytes: max, onOverflow: () => overflows++ });
      const closed = new Promise<number>((r) => frozen.server.once('close', (code) => r(code)));
      await pump((p) => {
        peak = Math.max(peak, frozen.server.bufferedAmount);
        send(p);
      }, frozen.server, 64 * 1_048_576);
      expect(await closed).toBe(1006);
      expect(overflows).toBe(1);
      expect(peak).toBeLessThanOrEqual(max + chunk.length + 64);

      // Reading: the same volume goes through without a close.
      const reading = await open();
      let received = 0;
      reading.client.on('message', (d) => (received += (d as Buffer).length));
      const sendReading = sender(reading.server, { maxBufferedBytes: max, onOverflow: () => overflows++ });
      const total = await pump(sendReading, reading.server, 8 * 1_048_576, true);
      await until(() => received === total, 10_000, 'everything received');
      expect(reading.server.readyState).toBe(WebSocket.OPEN);
      expect(overflows).toBe(1);
      reading.client.terminate();
      frozen.client.terminate();
    } finally {
      await new Promise((r) => wss.close(r));
    }
  });
});
