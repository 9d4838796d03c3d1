import { takeTokens, type Bucket, type BuyerLimits } from '../store/limits.ts';

/** Buckets untouched this long are full again and forgotten. */
const FORGET_AFTER_MS = 60_000;

/** Where a sender's buckets are kept. */
export interface BucketKeys {
  buyer: string;
  shop: string;
}

/**
 * Made once per sender, not per line: a key built for every line is a new string that the
 * buckets' map hashes again each time (the limit check was ~1 % of the gateway's busy time).
 */
export function bucketKeys(shop: string, sender: string): BucketKeys {
  return { buyer: `${shop}\u0000${sender}`, shop: `${shop}\u0000` };
}

/**
 * This instance's share of the buyers' shared rate limits, checked before a line costs
 * anything (classification, FAQ matching, a store round trip). The buckets see only the
 * lines that reach this instance, so they are never emptier than the shared ones in the store:
 * when one here is empty, the shared one is too, and the line is refused without asking. The
 * store's check (inside the step that stores the line) stays the one that decides.
 */
export class LocalBuyerLimits {
  private readonly buckets = new Map<string, Bucket>();
  private sweptAt = 0;

  admit(keys: BucketKeys, now: number, limits: BuyerLimits): boolean {
    if (now - this.sweptAt > FORGET_AFTER_MS) {
      this.sweptAt = now;
      for (const [k, b] of this.buckets) if (now - b.at > FORGET_AFTER_MS) this.buckets.delete(k);
    }
    return takeTokens(
      this.buckets,
      [
        { key: keys.buyer, rate: limits.buyer.perSecond, burst: limits.buyer.burst },
        { key: keys.shop, rate: limits.shop.perSecond, burst: limits.shop.burst },
      ],
      now,
    );
  }
}
