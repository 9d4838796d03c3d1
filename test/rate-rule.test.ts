/**
 * The token-bucket rule exists twice on purpose: in the scripts' prelude (takeTokens, the one
 * that decides, inside the step that stores a line) and in src/store/limits.ts (the local
 * pre-check that refuses a flood before it costs a classification and a store round trip).
 * The pre-check is only right while it is the same rule: it sees a subset of the lines, so
 * with the same rule its buckets are never emptier than the store's. This test pins the two
 * together: one instance sees every line, so both must decide every line alike.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { rng } from '../loadtest/profile.ts';
import { LocalBuyerLimits, bucketKeys } from '../src/domain/buyer-limits.ts';
import { PeakError } from '../src/protocol/errors.ts';
import { createEmbeddedStore } from '../src/store/embedded/embedded-store.ts';
import type { BuyerLimits } from '../src/store/limits.ts';
import type { RedisStore } from '../src/store/redis/redis-store.ts';

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

describe('buyer rate rule: the local pre-check and the store decide alike', () => {
  let store: RedisStore | undefined;
  afterEach(async () => {
    await store?.shutdown();
  });

  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: 1,500 lines of 3 buyers at random rates, bursts and gaps`, async () => {
      const r = rng(seed);
      store = createEmbeddedStore();
      const local = new LocalBuyerLimits();
      const limits: BuyerLimits = {
        buyer: { perSecond: pick(r, [0, 1, 2, 3, 7, 0.5]), burst: pick(r, [1, 2, 3, 5]) },
        shop: { perSecond: pick(r, [0, 2, 5, 11]), burst: pick(r, [1, 4, 10]) },
      };
      let now = 1_700_000_000_000;
      const decisions: string[] = [];
      for (let i = 0; i < 1_500; i++) {
        now += pick(r, [0, 0, 1, 3, 7, 50, 111, 333, 1_000, 2_500]);
        const buyer = pick(r, ['b1', 'b2', 'b3']);
        const here = local.admit(bucketKeys('shop', buyer), now, limits);
        const there = await store.limitBuyer('shop', buyer, now, limits).then(
          () => true,
          (err: unknown) => {
            if (err instanceof PeakError && err.code === 'rate_limited') return false;
            throw err;
          },
        );
        if (here !== there) decisions.push(`line ${i} (${buyer} at +${now - 1_700_000_000_000} ms): local ${here}, store ${there}`);
      }
      expect(decisions, JSON.stringify(limits)).toEqual([]);
    });
  }
});
