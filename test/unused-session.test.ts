/**
 * Bad traffic costs little: a buyer who connects and never writes leaves Redis state that
 * expires within `sessions.unusedTtlMs` (minutes), not a day; its first line makes the
 * session an open one, kept for `sessions.openTtlMs`. Real Redis.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from './support/client.ts';
import { freshPrefix, startGateway, type RunningGateway } from './support/gateway.ts';
import { startRedis, type RedisHandle } from './support/redis-server.ts';

let redis: RedisHandle;
let raw: Redis;
let g: RunningGateway;
const prefix = freshPrefix();

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
  g = await startGateway({ redisUrl: redis.url, keyPrefix: prefix });
});
afterAll(async () => {
  await g?.stop();
  raw?.disconnect();
  await redis?.stop();
});

/** Every key of the test's prefix with its time to live in ms (-1 = none). */
async function keysWithTtl(): Promise<Map<string, number>> {
  const keys = await raw.keys(`${prefix}*`);
  const out = new Map<string, number>();
  for (const k of keys) out.set(k, await raw.pttl(k));
  return out;
}

describe('a buyer who connects and never writes', () => {
  it('leaves only keys that expire within minutes; its first line keeps the session', async () => {
    const b = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'silent-1', kind: 'buyer' }));
    const { sessionId } = await b.next('welcome');
    b.close();
    await new Promise((r) => setTimeout(r, 200));
    const tenMinutes = 10 * 60_000;
    const sessionKeys = [...(await keysWithTtl())].filter(([k]) => k.includes(sessionId) || k.includes('silent-1'));
    expect(sessionKeys.length).toBeGreaterThan(0);
    for (const [k, ttl] of sessionKeys) {
      expect(ttl, k).toBeGreaterThan(0);
      expect(ttl, k).toBeLessThanOrEqual(tenMinutes);
    }

    // The same buyer writes: now the session lives as an open one (far longer than minutes).
    const again = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'silent-1', kind: 'buyer' }));
    expect((await again.next('welcome')).sessionId).toBe(sessionId);
    again.send({ type: 'message', clientMsgId: 'm1', text: '在吗？这款有优惠吗' });
    await again.next('ack');
    const key = [...(await keysWithTtl()).keys()].find((k) => k.endsWith(`s:${sessionId}`));
    expect(key).toBeDefined();
    const ttl = await raw.pttl(key!);
    expect(ttl).toBeGreaterThan(tenMinutes);
    again.close();
  });
});
