import type { z } from 'zod';
import type { buyerOut } from '../protocol/frames.ts';
import type { SessionView } from '../store/types.ts';

/**
 * Who the agent is talking to, as `offer` and `assigned` carry it (`buyer`): the token's name
 * and VIP level, which the shop's context hook may supply or override, tags and orders from
 * the hook, and whether the buyer is connected.
 */
export function buyerCard(s: SessionView): z.infer<typeof buyerOut> {
  const ctx = s.buyerContext;
  const name = ctx?.name ?? s.buyerName;
  return { ...ctx, id: s.buyerId, ...(name ? { name } : {}), vip: ctx?.vip ?? s.vip, online: s.buyerOnline };
}
