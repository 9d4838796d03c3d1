import type { SessionView } from '../store/types.ts';

/** Who the agent is talking to, as `offer` and `assigned` carry it (`buyer`). */
export function buyerCard(s: SessionView): { id: string; name?: string; vip: number; online: boolean } {
  return { id: s.buyerId, ...(s.buyerName ? { name: s.buyerName } : {}), vip: s.vip, online: s.buyerOnline };
}
