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
 * The prelude's takeTokens (lua/_prelude.lua) for the instance-local pre-check (domain/buyer-limits.ts), which may only refuse early, never admit more: takes one token from every bucket or, when
 * one is empty, from none. A rate of 0 turns that bucket off.
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
