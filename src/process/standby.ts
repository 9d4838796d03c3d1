import { createServer, type Server } from 'node:http';

/**
 * What answers on the gateway's port while it cannot start yet (Redis unreachable): the
 * process is up (`/healthz` 200) but not ready (`/readyz` 503), so orchestrators and load
 * balancers see the truth instead of a refused connection.
 */
export async function standby(host: string, port: number, reason: () => string): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const [code, body] =
      path === '/healthz' ? [200, { status: 'ok' }] : [503, { status: 'unavailable', store: 'redis', message: reason() }];
    res.writeHead(code, { 'content-type': 'application/json', connection: 'close' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
