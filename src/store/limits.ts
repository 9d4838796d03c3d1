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
export function takeTokens(buckets: { get(): Bucket | undefined; set(b: Bucket): void; rate: number; burst: number }[], now: number): boolean {
  const on = buckets.filter((b) => b.rate > 0);
  const left: number[] = [];
  for (const b of on) {
    const cur = b.get() ?? { tokens: b.burst, at: now };
    const tokens = Math.min(b.burst, cur.tokens + (Math.max(0, now - cur.at) * b.rate) / 1000);
    if (tokens < 1) return false;
    left.push(tokens - 1);
  }
  on.forEach((b, i) => b.set({ tokens: left[i]!, at: now }));
  return true;
}
