import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Metrics } from '../metrics/metrics.ts';
import type { Auth } from './auth.ts';
import { isPlatform } from './admin-scope.ts';
import type { ServerBoundsConfig } from './server-bounds.ts';
import { singleFlight } from './single-flight.ts';

/**
 * Who may read /metrics. Open by default: Prometheus scrapes without credentials, the text
 * holds counts, not chat content, and most deployments keep the port off the internet. With
 * `auth.metricsToken` a scrape needs that bearer token — or a platform admin token, so the ops
 * page keeps its service levels.
 */
export class MetricsAccess {
  private readonly digest: Buffer | undefined;

  constructor(
    token: string | undefined,
    private readonly auth: Auth,
  ) {
    this.digest = token === undefined ? undefined : sha256(token);
  }

  get open(): boolean {
    return this.digest === undefined;
  }

  async allows(authorization: string | undefined): Promise<boolean> {
    if (!this.digest) return true;
    if (!authorization?.startsWith('Bearer ')) return false;
    const given = authorization.slice(7).trim();
    // Equal-length digests: the comparison takes the same time whatever was sent.
    if (timingSafeEqual(sha256(given), this.digest)) return true;
    try {
      const claims = await this.auth.verify(given);
      return claims.kind === 'admin' && isPlatform(claims);
    } catch {
      return false;
    }
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** One collection at a time per registry, shared by the scrapes that arrive meanwhile. */
const collections = new WeakMap<Metrics, () => Promise<string>>();

/** GET /metrics as a request handler: 401 without access, the Prometheus text otherwise. */
export async function serveMetrics(metrics: Metrics, access: MetricsAccess, authorization: string | undefined): Promise<{ status: number; type: string; body: string }> {
  if (!(await access.allows(authorization))) return { status: 401, type: 'text/plain; charset=utf-8', body: 'metrics need Authorization: Bearer <auth.metricsToken>\n' };
  let collect = collections.get(metrics);
  if (!collect) {
    collect = singleFlight(() => metrics.registry.metrics());
    collections.set(metrics, collect);
  }
  return { status: 200, type: metrics.registry.contentType, body: await collect() };
}

/**
 * The separate metrics listener (`server.metricsPort`): only GET /metrics, with the same
 * request timeouts as the main server.
 */
export function metricsServer(metrics: Metrics, access: MetricsAccess, bounds: ServerBoundsConfig): Server {
  const server = createServer(
    { headersTimeout: bounds.requestTimeoutMs, requestTimeout: bounds.requestTimeoutMs, keepAliveTimeout: bounds.keepAliveTimeoutMs, maxHeaderSize: bounds.maxHeaderBytes },
    (req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('only GET /metrics here\n');
        return;
      }
      serveMetrics(metrics, access, req.headers.authorization).then(
        (r) => {
          res.writeHead(r.status, { 'content-type': r.type, ...(r.status === 401 ? { 'www-authenticate': 'Bearer' } : {}) });
          res.end(req.method === 'HEAD' ? undefined : r.body);
        },
        () => res.writeHead(500).end(),
      );
    },
  );
  return server;
}
