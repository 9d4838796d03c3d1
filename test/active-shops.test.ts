/**
 * O(active), not O(ever): with 2,000 shops that were active once and are idle now, one sweep
 * and one /metrics scrape cost a small, bounded number of Redis commands (counted with INFO
 * commandstats on the test's own redis-server), not some per shop ever seen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';
import { ACTIVE_HOLD_MS, SHOPS_PER_SWEEP } from '../src/store/active.ts';

const SHOPS = 2_000;
let redis: RedisHandle;
let g: RunningGateway;
let probe: Redis;

beforeAll(async () => {
  redis = await startRedis();
  probe = new Redis(redis.url);
  g = await startGateway({ redisUrl: redis.url });
});
afterAll(async () => {
  probe?.disconnect();
  await g?.stop();
  await redis?.stop();
});

/** Commands the server ran since the last reset, the probe's own INFO/CONFIG left out. */
async function commandsSinceReset(): Promise<{ total: number; by: Record<string, number> }> {
  const info = await probe.info('commandstats');
  const by: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (m[1] === 'info' || m[1] === 'config') continue;
    by[m[1]!] = Number(m[2]);
  }
  return { total: Object.values(by).reduce((a, b) => a + b, 0), by };
}

async function measure(fn: () => Promise<unknown>): Promise<{ total: number; by: Record<string, number> }> {
  await probe.config('RESETSTAT');
  await fn();
  return commandsSinceReset();
}

describe('idle shops cost nothing', () => {
  it(`one sweep and one scrape with ${SHOPS} once-active shops cost a bounded number of Redis commands`, async () => {
    const store = g.gateway.deps.store;
    const now = Date.now();
    for (let i = 0; i < SHOPS; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => store.openSession(`idle-${i + j}`, 'b', now)));
    }
    // One shop with a chat going on, which the sweep and the scrape must still see.
    const { sessionId } = await store.openSession('live', 'b', now);
    await store.postBuyerMessage('live', sessionId, 'b', { clientMsgId: 'm', text: 'hi', ts: now, role: 'pre-sale', enqueue: true, reclassify: false });
    // Past the hold, sweeps find the idle shops have nothing pending and let them go (a
    // sweep takes at most SHOPS_PER_SWEEP of them).
    await new Promise((r) => setTimeout(r, ACTIVE_HOLD_MS + 500));
    for (let i = 0; i < Math.ceil(SHOPS / SHOPS_PER_SWEEP) + 1; i++) await g.gateway.sweeper.sweep();
    // On a loaded machine a mark can land late and keep a shop past those sweeps: sweep on
    // until the idle shops are gone from the index (they must go, or this fails).
    const deadline = Date.now() + 20_000;
    while ((await store.activeShops()).length > 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      await g.gateway.sweeper.sweep();
    }
    expect(await store.activeShops()).toEqual(['live']);

    // The dashboard's sampler runs on its own timer: measured on its own, not inside the others.
    // A sample that started before the sweeps walks the 2,001 shops it read then, one by one,
    // for seconds: its commands landed in the windows below (81–104 where the bound is 60).
    await g.gateway.dashboard.stop();
    const sample = await measure(() => g.gateway.dashboard.sampleAll());
    const sweep = await measure(() => g.gateway.sweeper.sweep());
    const scrape = await measure(async () => {
      const text = await (await fetch(`${g.http}/metrics`)).text();
      expect(text).toMatch(/peakdesk_queue_depth\{shop="live",role="pre-sale"\} 1/);
    });
    const before = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 3_000));
    const used = process.cpuUsage(before);
    const idleCpu = ((used.user + used.system) / 1000 / 3_000) * 100;
    console.log(`${SHOPS} idle shops: one sweep ${sweep.total} Redis commands ${JSON.stringify(sweep.by)}; one scrape ${scrape.total} ${JSON.stringify(scrape.by)}; one dashboard sample ${sample.total} ${JSON.stringify(sample.by)}; test process (gateway) CPU while idle ${idleCpu.toFixed(1)} %`);
    // The live shop alone costs a handful (its queue is dispatched every sweep).
    expect(sweep.total).toBeLessThan(60);
    expect(scrape.total).toBeLessThan(60);
    expect(sample.total).toBeLessThan(20);
  }, 60_000);
});
