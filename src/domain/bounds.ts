import type { Config } from '../config/schema.ts';
import type { BuyerLimits, SessionBounds } from '../store/types.ts';

/** What one session may hold in the store (config `sessions.*`), for every line stored. */
export function sessionBounds(c: Config): SessionBounds {
  return { lifeMs: c.sessions.openTtlMs, maxEvents: c.sessions.maxTranscriptEvents, maxBytes: c.sessions.maxTranscriptBytes };
}

/** A buyer's shared rate limits (config `server.rateLimit.perBuyer` / `perShop`). */
export function buyerLimits(c: Config): BuyerLimits {
  return { buyer: c.server.rateLimit.perBuyer, shop: c.server.rateLimit.perShop };
}

/** A session's queue priority on entering `role`'s queue (config `routing.vipBoostMs`, `routing.priorityBoostMs`). */
export function queuePriority(c: Config, role: string): { vipBoostMs: number; boostMs: number } {
  return { vipBoostMs: c.routing.vipBoostMs, boostMs: c.routing.priorityBoostMs[role] ?? 0 };
}

/** How long a new queued session waits for its buyer's known agent (config `routing.sticky`; 0 = off). */
export function stickyHoldMs(c: Config): number {
  return c.routing.sticky.windowMs > 0 ? c.routing.sticky.holdMs : 0;
}
