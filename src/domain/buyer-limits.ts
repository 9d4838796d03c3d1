import { takeTokens, type Bucket, type BuyerLimits } from '../store/limits.ts';

/** Buckets untouched this long are full again and forgotten. */
const FORGET_AFTER_MS = 60_000;

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

  admit(shop: string, buyerId: string, now: number, limits: BuyerLimits): boolean {
    if (now - this.sweptAt > FORGET_AFTER_MS) {
      this.sweptAt = now;
      for (const [k, b] of this.buckets) if (now - b.at > FORGET_AFTER_MS) this.buckets.delete(k);
    }
    return takeTokens(
      this.buckets,
      [
        { key: `${shop}\u0000${buyerId}`, rate: limits.buyer.perSecond, burst: limits.buyer.burst },
        { key: `${shop}\u0000`, rate: limits.shop.perSecond, burst: limits.shop.burst },
      ],
      now,
    );
  }
}
