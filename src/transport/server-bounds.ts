import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { WebSocketServer } from 'ws';
import type { Metrics } from '../metrics/metrics.ts';

export interface ServerBoundsConfig {
  requestTimeoutMs: number;
  maxBodyBytes: number;
  maxHeaderBytes: number;
  keepAliveTimeoutMs: number;
  maxUnauthenticatedPerAddress: number;
}

/**
 * Node's own HTTP timeouts, as Fastify options. Node checks them every
 * `connectionsCheckingInterval` (30 s by default, which would let a slow-loris socket live
 * three times the bound), so the check runs several times per bound here.
 */
export function httpServerOptions(cfg: ServerBoundsConfig) {
  return {
    requestTimeout: cfg.requestTimeoutMs,
    keepAliveTimeout: cfg.keepAliveTimeoutMs,
    bodyLimit: cfg.maxBodyBytes,
    http: {
      maxHeaderSize: cfg.maxHeaderBytes,
      headersTimeout: cfg.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(cfg.requestTimeoutMs / 4))),
    },
  };
}

/**
 * The timeouts Node reads again at every check, so a config change applies to connections
 * from then on. (Header and body size limits and the check interval are fixed at start.)
 */
export function applyHttpTimeouts(server: Server, cfg: ServerBoundsConfig): void {
  // Node wants headersTimeout <= requestTimeout: set the larger first when growing.
  server.requestTimeout = Math.max(server.requestTimeout, cfg.requestTimeoutMs);
  server.headersTimeout = cfg.requestTimeoutMs;
  server.requestTimeout = cfg.requestTimeoutMs;
  server.keepAliveTimeout = cfg.keepAliveTimeoutMs;
}

/**
 * What Node's timeouts do not cover. Once a request's headers say `Upgrade`, Node hands the
 * socket over and stops timing it: the upgrade (auth, routing, a body an upgrade request
 * claims to have) gets its own deadline here. And each source address may hold only so many
 * connections that are not (yet) an authenticated WebSocket, so one host cannot use up the
 * descriptors with handshakes it never finishes.
 */
export function boundConnections(server: Server, wss: WebSocketServer, cfg: () => ServerBoundsConfig, metrics: Metrics): void {
  const pending = new Map<string, number>();
  const counted = new WeakMap<Duplex, string>();
  const release = (socket: Duplex) => {
    const addr = counted.get(socket);
    if (addr === undefined) return;
    counted.delete(socket);
    const n = (pending.get(addr) ?? 1) - 1;
    if (n <= 0) pending.delete(addr);
    else pending.set(addr, n);
  };

  server.on('connection', (socket: Socket) => {
    const addr = socket.remoteAddress ?? '';
    const n = (pending.get(addr) ?? 0) + 1;
    const max = cfg().maxUnauthenticatedPerAddress;
    if (max > 0 && n > max) {
      metrics.connectionsDropped.inc({ reason: 'too_many_unauthenticated' });
      socket.destroy();
      return;
    }
    pending.set(addr, n);
    counted.set(socket, addr);
    socket.once('close', () => release(socket));
  });

  const deadlines = new WeakMap<Duplex, NodeJS.Timeout>();
  server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
    const timer = setTimeout(() => {
      metrics.connectionsDropped.inc({ reason: 'upgrade_timeout' });
      socket.destroy();
    }, cfg().requestTimeoutMs);
    timer.unref();
    deadlines.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  });

  // Emitted once the handshake is done, which happens only after the token was verified.
  wss.on('connection', (_ws, req: IncomingMessage) => {
    clearTimeout(deadlines.get(req.socket));
    release(req.socket);
  });
}
