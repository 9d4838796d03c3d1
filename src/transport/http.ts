import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.ts';
import type { Store } from '../store/types.ts';

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

export function registerHttp(app: FastifyInstance, store: Store, metrics: Metrics): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ok = await within(store.ping(), READY_TIMEOUT_MS, false);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable', store: store.kind });
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}
