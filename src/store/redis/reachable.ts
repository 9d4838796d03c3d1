import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** `host:port` of each address the gateway would connect to, as an operator writes it. */
export function redisAddresses(opts: { url?: string; clusterNodes?: string[] }): string[] {
  if (opts.clusterNodes?.length) return opts.clusterNodes;
  const u = new URL(opts.url ?? 'redis://127.0.0.1:6379');
  return [`${u.hostname}:${u.port || '6379'}`];
}

/** One attempt: connect, PING, disconnect. Resolves to why it failed, or null. */
async function probe(url: string): Promise<string | null> {
  const client = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
  });
  // The socket's own error (ECONNREFUSED, ENOTFOUND…) says more than connect()'s "Connection is closed".
  let socketError: NodeJS.ErrnoException | undefined;
  client.on('error', (err: NodeJS.ErrnoException) => (socketError ??= err));
  try {
    await client.connect();
    await client.ping();
    return null;
  } catch (err) {
    const e = socketError ?? (err as NodeJS.ErrnoException);
    return e.code ?? e.message;
  } finally {
    client.disconnect();
  }
}

export interface WaitOptions {
  url?: string;
  clusterNodes?: string[];
  logger: Logger;
  /** Longest pause between attempts; the first ones come faster. */
  maxDelayMs?: number;
  /** How often "cannot reach" is logged while it lasts. */
  logEveryMs?: number;
  signal?: AbortSignal;
  /** Each failed attempt's "cannot reach …" text (what /readyz says meanwhile). */
  onFailure?: (why: string) => void;
}

/**
 * Waits until Redis answers, retrying with backoff. Start-up does not give up: a gateway
 * started before its Redis (compose, systemd ordering) becomes ready once Redis is up.
 */
export async function waitForRedis(opts: WaitOptions): Promise<void> {
  const maxDelay = opts.maxDelayMs ?? 5_000;
  const logEvery = opts.logEveryMs ?? 5_000;
  const addresses = redisAddresses(opts);
  const tls = opts.url?.startsWith('rediss:') ? 'rediss' : 'redis';
  const targets = opts.clusterNodes?.length ? addresses.map((a) => `redis://${a}`) : [opts.url ?? 'redis://127.0.0.1:6379'];
  let delay = 100;
  let loggedAt = -Infinity;
  for (let attempt = 1; ; attempt++) {
    const reasons = await Promise.all(targets.map(probe));
    if (reasons.some((r) => r === null)) {
      if (attempt > 1) opts.logger.info({ redis: addresses.join(','), attempts: attempt }, `reached Redis at ${addresses.join(', ')}`);
      return;
    }
    const why = `cannot reach Redis at ${addresses.map((a, i) => `${a} (${reasons[i]})`).join(', ')}`;
    opts.onFailure?.(why);
    if (Date.now() - loggedAt >= logEvery) {
      loggedAt = Date.now();
      opts.logger.error({ redis: addresses.join(','), scheme: tls, attempts: attempt }, `${why}; retrying`);
    }
    await new Promise((r) => setTimeout(r, delay));
    if (opts.signal?.aborted) throw new Error('stopped while waiting for Redis');
    delay = Math.min(maxDelay, delay * 2);
  }
}
