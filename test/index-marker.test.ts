/**
 * What a store step writes before it (index marks, a shop's webhook subscriptions): one write
 * per shop at a time, however many steps of the shop come while it is on its way (at midnight
 * a write can take a second).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IndexMarker } from '../src/store/redis/index-marker.ts';
import { WebhookOutbox } from '../src/store/redis/webhook-outbox.ts';
import { startRedis, type RedisHandle } from './support/redis-server.ts';

describe('index marker', () => {
  it('lets the steps that come while a mark is being written wait for that one write', async () => {
    const writes: { shop: string; done: () => void }[] = [];
    const marker = new IndexMarker((shop) => new Promise<void>((done) => writes.push({ shop, done })), 1_000);
    const waiting = [marker.mark('a'), marker.mark('a'), marker.mark('a'), marker.mark('b')];
    expect(writes.map((w) => w.shop)).toEqual(['a', 'b']);
    let settled = 0;
    for (const w of waiting) void w?.then(() => settled++);
    writes[0]!.done();
    writes[1]!.done();
    await Promise.all(waiting);
    expect(settled).toBe(4);
    // Marked lately: nothing to write, nothing to wait for.
    expect(marker.mark('a')).toBeUndefined();
    // A forced mark is written now, whatever is marked or on its way.
    void marker.mark('a', true);
    expect(writes).toHaveLength(3);
  });

  it('writes again at the next step when a write failed', async () => {
    let n = 0;
    const marker = new IndexMarker(() => (++n === 1 ? Promise.reject(new Error('down')) : Promise.resolve()), 1_000);
    await expect(marker.mark('a')).rejects.toThrow('down');
    await marker.mark('a');
    expect(n).toBe(2);
    expect(marker.mark('a')).toBeUndefined();
  });
});

describe('webhook subscriptions before a shop first steps', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('are written once while many steps of the shop arrive together', async () => {
    const client = new Redis(redis.url);
    try {
      const outbox = new WebhookOutbox(client, (() => Promise.reject(new Error('no script here'))) as never, 'wh-test', (p) => p);
      outbox.setSubscriptions(() => [], ['session.opened', 'session.closed']);
      const calls = async () => Number(/cmdstat_hdel:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
      const before = await calls();
      await Promise.all(Array.from({ length: 20 }, () => outbox.beforeStep('busy-shop')));
      expect((await calls()) - before).toBe(1);
      // Written: the next step has nothing to wait for.
      expect(outbox.beforeStep('busy-shop')).toBeUndefined();
    } finally {
      client.disconnect();
    }
  });
});
