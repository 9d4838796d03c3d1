import { messageFrame } from '../protocol/encode.ts';
import { PeakError } from '../protocol/errors.ts';
import type { HistoryEntry, MessageOut } from '../protocol/frames.ts';
import type { SessionView, Store } from '../store/types.ts';

/** Sessions one page lists when the caller does not say. */
export const HISTORY_PAGE_DEFAULT = 20;
/** How many characters of a line the preview keeps. */
const PREVIEW_CHARS = 80;
/** The last events the preview looks through for the buyer's last line. */
const PREVIEW_EVENTS = 10;

export interface HistoryPage {
  sessions: HistoryEntry[];
  next?: number;
}

/**
 * A buyer's past sessions in one shop (v1.1 "buyer history"): for ops by buyer id, for an
 * agent only through a session of that buyer it holds, and never across shops (the store's
 * index is per shop).
 */
export class BuyerHistory {
  constructor(private readonly store: Store) {}

  /** Newest first; `before` is the previous page's `next`. */
  async list(shop: string, buyerId: string, page: { limit?: number; before?: number } = {}): Promise<HistoryPage> {
    const r = await this.store.buyerSessions(shop, buyerId, { limit: page.limit ?? HISTORY_PAGE_DEFAULT, ...(page.before !== undefined ? { before: page.before } : {}) });
    const sessions = await Promise.all(r.sessions.map((s) => this.entry(s)));
    return r.next === undefined ? { sessions } : { sessions, next: r.next };
  }

  /** The history of the buyer of `sessionId`, which `agentId` must hold. */
  async forAgent(shop: string, agentId: string, sessionId: string, page: { limit?: number; before?: number }): Promise<HistoryPage & { buyerId: string }> {
    const held = await this.held(shop, agentId, sessionId);
    return { buyerId: held.buyerId, ...(await this.list(shop, held.buyerId, page)) };
  }

  /** One session of that same buyer with its transcript; another buyer's is `unknown_session`, as if it did not exist. */
  async transcriptForAgent(shop: string, agentId: string, sessionId: string, pastSessionId: string): Promise<{ session: HistoryEntry; transcript: MessageOut[] }> {
    const held = await this.held(shop, agentId, sessionId);
    const past = pastSessionId === sessionId ? held : await this.store.getSession(shop, pastSessionId);
    if (!past || past.buyerId !== held.buyerId) throw new PeakError('unknown_session', `no session ${pastSessionId} of this buyer`);
    const events = await this.store.readEvents(shop, pastSessionId, 0);
    return { session: await this.entry(past), transcript: events.map((e) => messageFrame(pastSessionId, e)) };
  }

  private async held(shop: string, agentId: string, sessionId: string): Promise<SessionView> {
    const s = await this.store.getSession(shop, sessionId);
    if (!s) throw new PeakError('unknown_session', `no session ${sessionId}`);
    if (s.agentId !== agentId || (s.state !== 'assigned' && s.state !== 'offered')) {
      throw new PeakError('not_assigned', `session ${sessionId} is not assigned or offered to you`);
    }
    return s;
  }

  private async entry(s: SessionView): Promise<HistoryEntry> {
    const last = await this.store.lastEvents(s.shop, s.id, PREVIEW_EVENTS);
    const newest = [...last].reverse();
    const line = newest.find((e) => e.from === 'buyer' && e.text) ?? newest.find((e) => e.text);
    const agents = [...new Set([...s.handovers.map((h) => h.agentId), s.agentId ?? s.lastAgentId].filter((a): a is string => Boolean(a)))];
    const agentId = s.agentId ?? s.lastAgentId;
    return {
      sessionId: s.id,
      state: s.state,
      role: s.role,
      roleHistory: s.roleHistory,
      ...(agentId ? { agentId } : {}),
      agents,
      ...(s.rating !== undefined ? { rating: s.rating } : {}),
      ...(s.ratingComment ? { ratingComment: s.ratingComment } : {}),
      createdAt: s.createdAt,
      ...(s.closedAt !== undefined ? { closedAt: s.closedAt } : {}),
      ...(s.closedReason ? { closedReason: s.closedReason } : {}),
      ...(line ? { preview: line.text.slice(0, PREVIEW_CHARS) } : {}),
      events: s.lastSeq,
    };
  }
}
