/**
 * The peer ceiling: the relay a Node team would build instead of peakdesk — Socket.IO with
 * `@socket.io/redis-adapter` on the same Redis, so it scales out the usual way. Every buyer
 * and agent joins its own room; a buyer's line goes to its agent's room (through the adapter:
 * PUBLISH on Redis, delivered by every server that has members) and is acknowledged to the
 * buyer with Socket.IO's ack callback. No auth, no transcript, no routing: the same message
 * pattern as the bare relay (echo-server.ts) with the framework and the Redis fan-out that a
 * horizontally scaled Socket.IO deployment pays. Prints `{"msg":"listening","port":N}`.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node --import tsx loadtest/socketio-server.ts
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';

const url = process.env.REDIS_URL;
if (!url) throw new Error('REDIS_URL is required (the adapter fans out through Redis)');
const pub = new Redis(url);
const sub = pub.duplicate();

const http = createServer();
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, maxHttpBufferSize: 1 << 20, serveClient: false });
io.adapter(createAdapter(pub, sub, { key: 'peakdesk-loadtest-socketio' }));

io.on('connection', (socket) => {
  const { kind, id, agent } = socket.handshake.query as Record<string, string>;
  if (kind === 'agent') {
    void socket.join(`agent:${id}`);
    return;
  }
  void socket.join(`buyer:${id}`);
  socket.on('message', (frame: unknown, ack?: (r: unknown) => void) => {
    io.to(`agent:${agent}`).emit('message', frame);
    ack?.({ ok: true });
  });
});

http.listen(0, '127.0.0.1', () => {
  const addr = http.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
});

const stop = () => {
  void io.close();
  pub.disconnect();
  sub.disconnect();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
