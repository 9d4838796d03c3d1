import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { createEmbeddedStore } from './embedded/embedded-store.ts';
import { RedisStore } from './redis/redis-store.ts';
import { redisAddresses } from './redis/reachable.ts';
import type { Store } from './types.ts';

/** Redis when an address is configured, else the same store over the embedded in-process engine (one instance). */
export async function createStore(config: Config, logger: Logger): Promise<Store> {
  const { url, clusterNodes, keyPrefix, commandTimeoutMs } = config.redis;
  if (url || clusterNodes?.length) {
    const store = await RedisStore.connect({
      url,
      clusterNodes,
      keyPrefix,
      commandTimeoutMs,
      idleSessionTtlMs: config.sessions.unusedTtlMs,
      onConnectionError: (err, connection) =>
        logger.warn({ err: err.message, connection }, `cannot reach Redis at ${redisAddresses(config.redis).join(', ')} (${err.message})`),
    });
    logger.info({ store: 'redis', cluster: Boolean(clusterNodes?.length) }, 'store connected');
    return store;
  }
  logger.warn(
    { store: 'memory' },
    'no REDIS_URL or REDIS_CLUSTER_NODES: using the embedded in-process store; single instance only, state is lost on exit',
  );
  return createEmbeddedStore({ keyPrefix, idleSessionTtlMs: config.sessions.unusedTtlMs });
}
