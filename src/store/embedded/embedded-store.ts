import type { Redis } from 'ioredis';
import { RedisStore } from '../redis/redis-store.ts';
import { EmbeddedClient } from './client.ts';
import { RedisEngine } from './engine.ts';

export interface EmbeddedStoreOptions {
  keyPrefix?: string;
  /** A session nobody wrote in yet is forgotten after this long. */
  idleSessionTtlMs?: number;
  /** How long a shop stays in the active index after a step marks it (see src/store/active.ts). */
  activeHoldMs?: number;
  /** The clock for expiry (idle sessions, retention, blocks); method `now` arguments do the rest. */
  now?: () => number;
}

/**
 * The store without a Redis server: RedisStore, its keys and its Lua scripts unchanged, over
 * an in-process Redis engine. One process only; the state is gone when it exits.
 */
export function createEmbeddedStore(opts: EmbeddedStoreOptions = {}): RedisStore {
  const engine = new RedisEngine(opts.now ? { now: opts.now } : {});
  const client = new EmbeddedClient(engine) as unknown as Redis;
  const sub = new EmbeddedClient(engine) as unknown as Redis;
  return RedisStore.over(client, sub, {
    keyPrefix: opts.keyPrefix ?? 'pd',
    kind: 'memory',
    library: true,
    ...(opts.idleSessionTtlMs !== undefined ? { idleSessionTtlMs: opts.idleSessionTtlMs } : {}),
    ...(opts.activeHoldMs !== undefined ? { activeHoldMs: opts.activeHoldMs } : {}),
  });
}
