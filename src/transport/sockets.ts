import type {} from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { isPeakError } from '../protocol/errors.ts';
import { agentInbound, buyerInbound, type AgentInbound, type BuyerInbound } from '../protocol/frames.ts';
import { encode } from '../protocol/encode.ts';
import { AgentConnection } from '../domain/agent-connection.ts';
import { BuyerConnection } from '../domain/buyer-connection.ts';
import type { Deps } from '../domain/deps.ts';
import type { Services } from '../domain/services.ts';
import { AuthError, type Auth, type Claims, type TokenKind } from './auth.ts';
import { runFrameLoop } from './frame-loop.ts';
import { sender } from './sender.ts';
import type { Heartbeat } from './heartbeat.ts';
import { sendError } from './http-error.ts';

declare module 'fastify' {
  interface FastifyRequest {
    claims?: Claims;
  }
}

export interface SocketContext {
  deps: Deps;
  svc: Services;
  auth: Auth;
  /** Open sockets with the promise of their clean-up, for graceful shutdown. */
  live: Map<WebSocket, Promise<void>>;
  heartbeat: Heartbeat;
}

/**
 * A browser page may open a socket only from an allowed origin: without this any site a
 * buyer visits could chat in their name with a token it got hold of. Clients that send no
 * Origin (apps, servers) are not browsers and are not restricted by it.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (!origin || allowed.includes('*') || allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * Refuses the upgrade with 403 from a browser origin that is not allowed, and with 401
 * unless the token is valid and of the endpoint's kind.
 */
function authenticate(ctx: SocketContext, kind: TokenKind) {
  const { auth } = ctx;
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (!originAllowed(req.headers.origin, req.headers.host, ctx.deps.config().server.allowedOrigins)) {
      await sendError(reply, 403, 'forbidden', `origin ${req.headers.origin} is not allowed`);
      return;
    }
    try {
      req.claims = await auth.fromRequest(req, kind);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      await sendError(reply, 401, 'unauthorized', err.message);
    }
  };
}

/**
 * Wires one socket to its domain connection: frames in through the frame loop, payloads out
 * through the sink, clean-up when the socket closes. A connection that cannot be set up
 * (blocked buyer, store down) gets an error frame and is closed.
 */
function serve<C extends { disconnect(): Promise<void> }, F extends { type: string }>(
  ctx: SocketContext,
  socket: WebSocket,
  kind: 'buyer' | 'agent',
  schema: import('zod').ZodType<F>,
  open: (send: (p: string) => void) => Promise<C>,
  handle: (conn: C, frame: F) => Promise<void>,
  orderKey?: (frame: F) => string,
): void {
  const { deps } = ctx;
  const cfg = deps.config().server;
  const log = deps.logger;
  const send = sender(socket, {
    maxBufferedBytes: cfg.maxBufferedBytes,
    onOverflow: () => {
      deps.metrics.connectionsDropped.inc({ reason: 'send_buffer_full' });
      log.warn({ kind, buffered: socket.bufferedAmount }, 'closing a connection that does not read what it is sent');
    },
  });
  deps.metrics.connections.inc({ kind });
  const opening = open(send);
  let done!: () => void;
  ctx.live.set(socket, new Promise<void>((r) => (done = r)));
  ctx.heartbeat.watch(socket);

  opening.catch((err) => {
    const code = isPeakError(err) ? err.code : 'internal';
    if (!isPeakError(err)) log.error({ err }, `${kind} connection setup failed`);
    send(encode({ type: 'error', code, message: isPeakError(err) ? err.message : 'internal error' }));
    socket.close(code === 'blocked' ? 1008 : code === 'unavailable' || code === 'rate_limited' ? 1013 : 1011, code);
  });

  runFrameLoop<F>({
    socket,
    kind,
    schema,
    maxFrameBytes: cfg.maxFrameBytes,
    errorLimit: cfg.errorLimit,
    errorWindowMs: cfg.errorWindowMs,
    framesPerSecond: cfg.rateLimit[kind].perSecond,
    frameBurst: cfg.rateLimit[kind].burst,
    logger: log,
    metrics: deps.metrics,
    ready: opening,
    send,
    ...(orderKey ? { orderKey } : {}),
    handle: async (frame) => handle(await opening, frame),
  });

  socket.on('close', () => {
    deps.metrics.connections.dec({ kind });
    opening
      .then((conn) => conn.disconnect())
      .catch((err) => {
        if (!isPeakError(err)) log.warn({ err }, `${kind} disconnect clean-up failed`);
      })
      .finally(() => {
        ctx.live.delete(socket);
        done();
      });
  });
}

function handleBuyer(conn: BuyerConnection, f: BuyerInbound): Promise<void> {
  switch (f.type) {
    case 'message':
      return conn.message(f.clientMsgId, { text: f.text, card: f.card, attachments: f.attachments });
    case 'resume':
      return conn.resume(f.lastSeq);
    case 'rate':
      return conn.rate(f.score, f.comment);
    case 'ping':
      return Promise.resolve(); // answered by the frame loop
  }
}

function handleAgent(conn: AgentConnection, f: AgentInbound): Promise<void> {
  switch (f.type) {
    case 'ready':
      return conn.ready(f.roles, f.capacity);
    case 'away':
      return conn.away();
    case 'accept':
      return conn.accept(f.sessionId);
    case 'decline':
      return conn.decline(f.sessionId);
    case 'message':
      return conn.message(f.sessionId, f.clientMsgId, { text: f.text, card: f.card, attachments: f.attachments });
    case 'transfer':
      return conn.transfer(f.sessionId, f.toRole, f.note);
    case 'close':
      return conn.close(f.sessionId);
    case 'block':
      return conn.block(f.sessionId, f.reason);
    case 'resume':
      return conn.resume(f.sessionId, f.lastSeq);
    case 'history':
      return conn.buyerHistory(f.sessionId, { limit: f.limit, before: f.before });
    case 'history_transcript':
      return conn.historyTranscript(f.sessionId, f.pastSessionId);
    case 'ping':
      return Promise.resolve();
  }
}

export function registerSockets(app: FastifyInstance, ctx: SocketContext): void {
  app.get('/v1/buyer', { websocket: true, preValidation: authenticate(ctx, 'buyer') }, (socket, req) => {
    const { shop, sub, name, vip } = req.claims!;
    const identity = { vip: vip ?? 0, ...(name ? { name } : {}) };
    serve(ctx, socket, 'buyer', buyerInbound, (send) => BuyerConnection.open(ctx.deps, ctx.svc, shop, sub, send, identity), handleBuyer);
  });
  app.get('/v1/agent', { websocket: true, preValidation: authenticate(ctx, 'agent') }, (socket, req) => {
    const { shop, sub, roles } = req.claims!;
    serve(
      ctx,
      socket,
      'agent',
      agentInbound,
      (send) => AgentConnection.open(ctx.deps, ctx.svc, shop, sub, roles, send),
      handleAgent,
      (f) => ('sessionId' in f ? f.sessionId : ''),
    );
  });
}
