import { readFileSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { Gateway } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { RedisStore } from '../../src/store/redis/redis-store.ts';
import { createEmbeddedStore } from '../../src/store/embedded/embedded-store.ts';
import type { Store } from '../../src/store/types.ts';
import type { Claims } from '../../src/transport/auth.ts';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

/**
 * Generous limits for tests that measure the store, not the token buckets. No campaign
 * script, so the transcripts are the same whatever the date (default.json ships one).
 */
export const STORE_TEST_CONFIG = {
  server: {
    rateLimit: {
      buyer: { perSecond: 500, burst: 500 },
      agent: { perSecond: 500, burst: 500 },
      perBuyer: { perSecond: 500, burst: 500 },
      perShop: { perSecond: 5_000, burst: 5_000 },
    },
  },
  bots: { campaigns: [] },
};

export interface RunningGateway {
  gateway: Gateway;
  url: string;
  http: string;
  port: number;
  token(claims: Partial<Claims> & { sub: string; kind: Claims['kind'] }): Promise<string>;
  stop(): Promise<void>;
}

/** `over` laid onto `base`: objects merge key by key, anything else (arrays too) replaces. */
export function merge(base: any, over: any): any {
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return structuredClone(over);
  if (typeof over !== 'object' || over === null || Array.isArray(over)) return structuredClone(over);
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? merge(base[k], v) : structuredClone(v);
  return out;
}

let prefixCounter = 0;
/** A key prefix no other test uses, so tests can share one private redis-server. */
export function freshPrefix(): string {
  return `t${process.pid}x${++prefixCounter}`;
}

/**
 * Starts a gateway on a free loopback port. With `redisUrl` (or `clusterNodes`, the seeds of a
 * Redis Cluster) it uses its own RedisStore connection (as a separate instance would); without,
 * the embedded store. A `store` passed in is used as is and left open by stop().
 */
export async function startGateway(opts: {
  redisUrl?: string;
  /** `host:port` seeds of a Redis Cluster, instead of `redisUrl`. */
  clusterNodes?: string[];
  keyPrefix?: string;
  config?: Record<string, any>;
  now?: () => number;
  store?: Store;
  /** A config file the gateway watches (hot reload); `config` still gives its start-up config. */
  configPath?: string;
  /** To read what the gateway logs; default: silent (or TEST_LOG_LEVEL). */
  logger?: Logger;
}): Promise<RunningGateway> {
  // The shipped config/default.json is the base, so tests run the rules and texts users get.
  const raw = merge(JSON.parse(readFileSync('config/default.json', 'utf8')), opts.config ?? {});
  raw.server = { ...(raw.server ?? {}), host: '127.0.0.1', port: 0 };
  raw.auth = { ...(opts.config?.auth ?? {}), secret: TEST_SECRET };
  const redisExtra = opts.config?.redis ?? {};
  if (opts.redisUrl) raw.redis = { ...redisExtra, url: opts.redisUrl, keyPrefix: opts.keyPrefix ?? freshPrefix() };
  if (opts.clusterNodes?.length) raw.redis = { ...redisExtra, clusterNodes: opts.clusterNodes, keyPrefix: opts.keyPrefix ?? freshPrefix() };
  const config: Config = parseConfig(raw);
  const store =
    opts.store ??
    (opts.clusterNodes?.length
      ? await RedisStore.connect({ clusterNodes: opts.clusterNodes, keyPrefix: config.redis.keyPrefix, commandTimeoutMs: config.redis.commandTimeoutMs, idleSessionTtlMs: config.sessions.unusedTtlMs, onConnectionError: () => {} })
      : opts.redisUrl
        ? await RedisStore.connect({ url: opts.redisUrl, keyPrefix: config.redis.keyPrefix, commandTimeoutMs: config.redis.commandTimeoutMs, idleSessionTtlMs: config.sessions.unusedTtlMs, onConnectionError: () => {} })
        : createEmbeddedStore({ keyPrefix: config.redis.keyPrefix, idleSessionTtlMs: config.sessions.unusedTtlMs }));
  const logger = opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const gateway = await Gateway.create({
    config,
    logger,
    store,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.configPath ? { configPath: opts.configPath, configDoc: raw } : {}),
  });
  const port = await gateway.listen();
  return {
    gateway,
    port,
    url: `ws://127.0.0.1:${port}`,
    http: `http://127.0.0.1:${port}`,
    token: (c) => gateway.auth.sign({ shop: 'shop-1', ...c } as Claims),
    stop: async () => {
      await gateway.stop();
      if (!opts.store) await store.shutdown();
    },
  };
}
