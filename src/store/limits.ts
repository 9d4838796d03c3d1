/** A buyer's frames are limited per buyer and per shop, across all its connections and instances. */
export interface BuyerLimits {
  buyer: { perSecond: number; burst: number };
  shop: { perSecond: number; burst: number };
}

/** A token bucket as the prelude's takeTokens keeps it in Redis. */
export interface Bucket {
  tokens: number;
  at: number;
}

/**
 * The prelude's takeTokens (lua/_prelude.lua) for the instance-local pre-check
 * (domain/buyer-limits.ts): takes one token from every bucket or, when one is empty, from
 * none. A rate of 0 turns that bucket off. The second copy is deliberate: the pre-check runs
 * before a line costs anything (no store round trip, no script), which is its whole purpose,
 * so it cannot call the Lua. It is only right while it is the same rule (it sees a subset of
 * the lines, so its buckets are never emptier than the store's): test/rate-rule.test.ts runs
 * both over seeded random sequences and fails on any line they decide differently.
 */
export function takeTokens(held: Map<string, Bucket>, rules: readonly BucketRule[], now: number): boolean {
  // Two passes instead of collecting what is left: nothing is allocated for a line that is
  // refused, and a kept bucket is updated in place (this runs for every buyer line).
  for (const r of rules) if (r.rate > 0 && tokensAt(held.get(r.key), r, now) < 1) return false;
  for (const r of rules) {
    if (r.rate <= 0) continue;
    const b = held.get(r.key);
    const tokens = tokensAt(b, r, now) - 1;
    if (b) {
      b.tokens = tokens;
      b.at = now;
    } else held.set(r.key, { tokens, at: now });
  }
  return true;
}

/** One bucket of a takeTokens call: where it is kept, and its rule. */
export interface BucketRule {
  key: string;
  rate: number;
  burst: number;
}

function tokensAt(b: Bucket | undefined, r: BucketRule, now: number): number {
  return b ? Math.min(r.burst, b.tokens + (Math.max(0, now - b.at) * r.rate) / 1000) : r.burst;
}
