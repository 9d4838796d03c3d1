import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.ts';
import type { Store } from '../store/types.ts';
import { serveMetrics, type MetricsAccess } from './metrics-access.ts';
import { singleFlight } from './single-flight.ts';

/**
 * A readiness probe waits this long for the store: a Redis that froze (stopped process, a
 * stuck script) holds commands without failing them, and the probe must say "not ready"
 * rather than hang until the orchestrator gives up on it.
 */
export const READY_TIMEOUT_MS = 2_000;

function within<T>(p: Promise<T>, ms: number, otherwise: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(otherwise), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** /healthz, /readyz and, unless it has a listener of its own (`onMainPort: false`), /metrics. */
export function registerHttp(app: FastifyInstance, store: Store, metrics: Metrics, access: MetricsAccess, onMainPort: boolean): void {
  const probe = singleFlight(() => within(store.ping(), READY_TIMEOUT_MS, false));
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ok = await probe();
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable', store: store.kind });
  });
  if (!onMainPort) return;
  app.get('/metrics', async (req, reply) => {
    const r = await serveMetrics(metrics, access, req.headers.authorization);
    if (r.status === 401) void reply.header('www-authenticate', 'Bearer');
    return reply.code(r.status).type(r.type).send(r.body);
  });
}
