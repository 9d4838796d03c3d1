import { botTexts, fillText, resolveShop } from '../config/shop-config.ts';
import { encode } from '../protocol/encode.ts';
import { PeakError } from '../protocol/errors.ts';
import type { BotTexts } from '../config/bots-schema.ts';
import type { BotLine, Closed, SessionView } from '../store/types.ts';
import type { Deps } from './deps.ts';
import type { Router } from './router.ts';
import { PlanRecorder } from './plan-recorder.ts';

/**
 * Every way a session ends. An agent's `close` opens the rating window (the bot invites a
 * rating); a rating or the window's end brings the goodbye and `closed`. Idle chats and
 * blocks end at once. The store makes each step atomic, bot lines included, so two
 * instances finishing the same window produce one goodbye.
 */
export class Closer {
  private readonly plan: PlanRecorder;

  constructor(
    private readonly d: Deps,
    private readonly router: Router,
  ) {
    this.plan = new PlanRecorder(d);
  }

  /** The session as it is now, and the bot texts of its shop and role. */
  private async read(shop: string, sessionId: string): Promise<{ s: SessionView | null; t: BotTexts; name: string }> {
    const s = await this.d.store.getSession(shop, sessionId);
    const sc = resolveShop(this.d.config(), shop);
    return { s, t: botTexts(sc, s?.role ?? ''), name: sc.displayName };
  }

  /** The agent ends the chat: rating invite (or goodbye when rating is off). */
  async agentClose(shop: string, sessionId: string, agentId: string): Promise<void> {
    const { s, t, name } = await this.read(shop, sessionId);
    if (!s) throw new PeakError('unknown_session', `no session ${sessionId}`);
    const { retentionMs, rateWindowMs } = this.d.config().sessions;
    const r = await this.d.store.close(shop, sessionId, agentId, 'agent_closed', this.d.now(), {
      retentionMs,
      rateWindowMs,
      invite: fillText(t.ratingInvite, { shop: name }),
      goodbye: fillText(t.goodbye, { shop: name }),
    });
    this.d.logger.info({ shop, sessionId, agentId, role: r.role, state: r.state }, r.state === 'closing' ? 'session closing, rating invited' : 'session closed');
    this.plan.handled(shop, r.role, sessionId);
    await this.announce(shop, sessionId, r, 'agent_closed');
  }

  /** Blocks the buyer for the shop and ends the chat; the transcript stays for review. */
  async block(shop: string, sessionId: string, agentId: string, reason: string): Promise<void> {
    const { retentionMs, blockMs } = this.d.config().sessions;
    const r = await this.d.store.block(shop, sessionId, agentId, reason, this.d.now(), blockMs, retentionMs);
    this.d.logger.warn({ shop, sessionId, agentId, buyerId: r.buyerId, reason }, 'buyer blocked');
    await this.announce(shop, sessionId, { buyerId: r.buyerId, agentId, state: 'closed', role: '' }, 'blocked');
  }

  /**
   * The rating window ends: at its time (`onlyDue`), after a rating, or because the buyer
   * started talking again. Returns the session as it was before, when this call ended it.
   */
  async finish(shop: string, sessionId: string, onlyDue: boolean): Promise<SessionView | null> {
    const { s, t, name } = await this.read(shop, sessionId);
    const goodbye = fillText(t.goodbye, { shop: name });
    const r = await this.d.store.finishClosing(shop, sessionId, this.d.now(), { retentionMs: this.d.config().sessions.retentionMs, goodbye, onlyDue });
    if (!r) return null;
    this.d.logger.info({ shop, sessionId, buyerId: r.buyerId, reason: r.reason }, 'session closed');
    await this.announce(shop, sessionId, { buyerId: r.buyerId, state: 'closed', role: s?.role ?? '' }, r.reason);
    return s;
  }

  /** Closes a chat whose buyer has been silent since before `silentSince`, if it still is. */
  async idle(shop: string, sessionId: string, silentSince: number): Promise<void> {
    const { s, t, name } = await this.read(shop, sessionId);
    const line: BotLine = { text: fillText(t.idleClose, { shop: name }), kind: 'idle_close' };
    const r = await this.d.store.idleClose(shop, sessionId, this.d.now(), silentSince, { retentionMs: this.d.config().sessions.retentionMs, line });
    if (!r) return;
    this.d.logger.info({ shop, sessionId, buyerId: r.buyerId, agentId: r.agentId, role: r.role }, 'idle session closed');
    this.deflected(shop, s);
    await this.announce(shop, sessionId, r, 'idle');
  }

  /** Closes a session that has waited without an agent since before `queuedBefore` (sessions.maxQueuedMs), if it still has. */
  async queueTimeout(shop: string, sessionId: string, queuedBefore: number): Promise<void> {
    const { t } = await this.read(shop, sessionId);
    const line: BotLine = { text: fillText(t.goodbye, { shop }), kind: 'goodbye' };
    const r = await this.d.store.expireQueued(shop, sessionId, this.d.now(), queuedBefore, { retentionMs: this.d.config().sessions.retentionMs, line });
    if (!r) return;
    this.d.logger.info({ shop, sessionId, buyerId: r.buyerId, role: r.role }, 'session closed after waiting too long');
    await this.announce(shop, sessionId, r, 'queue_timeout');
  }

  /** Closes a queued session whose buyer has been offline since before `offlineBefore` (sessions.abandonMs), if it still is. */
  async abandon(shop: string, sessionId: string, offlineBefore: number): Promise<void> {
    const s = await this.d.store.getSession(shop, sessionId);
    const r = await this.d.store.abandonQueued(shop, sessionId, this.d.now(), offlineBefore, { retentionMs: this.d.config().sessions.retentionMs });
    if (!r) return;
    this.d.logger.info({ shop, sessionId, buyerId: r.buyerId, role: r.role }, 'session abandoned: its buyer stayed offline');
    this.d.metrics.abandoned.inc({ shop, role: r.role });
    this.router.countRouting(shop, r.role, 'abandoned');
    // The staffing plan counts the give-up once, here, with how long the buyer had waited.
    this.plan.abandoned(shop, r.role, Math.max(0, this.d.now() - (s?.arrivedAt || this.d.now())));
    await this.announce(shop, sessionId, r, 'abandoned');
  }

  /** Ops end a chat in any unfinished state; the buyer gets the goodbye. */
  async end(shop: string, sessionId: string, reason: string, by: string): Promise<void> {
    const { s, t, name } = await this.read(shop, sessionId);
    if (!s) throw new PeakError('unknown_session', `no session ${sessionId}`);
    const line: BotLine = { text: fillText(t.goodbye, { shop: name }), kind: 'goodbye' };
    const r = await this.d.store.endSession(shop, sessionId, reason, this.d.now(), { retentionMs: this.d.config().sessions.retentionMs, line });
    this.d.logger.info({ shop, sessionId, buyerId: r.buyerId, agentId: r.agentId, role: r.role, reason, by }, 'session closed by ops');
    if (s.state === 'assigned') this.plan.handled(shop, r.role, sessionId);
    this.deflected(shop, s);
    await this.announce(shop, sessionId, r, reason);
  }

  /** A bot-first session that ends without ever queuing was resolved by the bot alone. */
  private deflected(shop: string, s: SessionView | null): void {
    if (s?.state !== 'bot' || !s.botRole) return;
    this.d.metrics.deflected.inc({ shop, role: s.botRole });
    this.router.countRouting(shop, s.botRole, 'deflected');
  }

  /** Tells both sides and frees the agent's capacity for the next waiting buyer. */
  private async announce(shop: string, sessionId: string, r: Closed, reason: string): Promise<void> {
    const sends: Promise<void>[] = [];
    if (r.state === 'closed') {
      this.d.metrics.closes.inc({ shop, reason });
      sends.push(this.d.store.bus.publish({ kind: 'buyer', shop, id: r.buyerId }, encode({ type: 'closed', sessionId, reason })));
    }
    if (r.agentId) sends.push(this.d.store.bus.publish({ kind: 'agent', shop, id: r.agentId }, encode({ type: 'session_closed', sessionId, reason })));
    await Promise.all(sends);
    // Only an agent's freed capacity gives dispatch something new to do.
    if (r.agentId) this.router.kickAll(shop);
  }
}
