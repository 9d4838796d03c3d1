/**
 * The raw ceiling: a bare `ws` relay in its own Node process, as the gateway is. A buyer's
 * frame is forwarded as is to its agent's socket and echoed back to the buyer as its "ack":
 * the same message pattern as the gateway's (one frame in, two out) with no parsing, no
 * auth, no store. Prints `{"msg":"listening","port":N}` like the gateway.
 *
 *   node --import tsx loadtest/echo-server.ts
 */
import { WebSocketServer, type WebSocket } from 'ws';

const agents = new Map<string, WebSocket>();
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 1 << 20 });

wss.on('connection', (ws, req) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/agent') {
    const id = url.searchParams.get('id') ?? '';
    agents.set(id, ws);
    ws.on('close', () => agents.delete(id));
    return;
  }
  const agentId = url.searchParams.get('agent') ?? '';
  ws.on('message', (data, isBinary) => {
    agents.get(agentId)?.send(data, { binary: isBinary });
    ws.send(data, { binary: isBinary });
  });
});

wss.on('listening', () => {
  const addr = wss.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
});

const stop = () => wss.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
