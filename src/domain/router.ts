import { buyerCard } from './buyer-card.ts';
import { encode, messageFrame } from '../protocol/encode.ts';
import type { Offer, OverflowSource, Requeued, RouteCount } from '../store/types.ts';
import type { Deps } from './deps.ts';
import { PlanRecorder } from './plan-recorder.ts';
import { KeyedTimers } from './timers.ts';
import { roleOpen } from './bots/business-hours.ts';
import { resolveShop } from '../config/shop-config.ts';

/** Offers reserved per dispatch call; the loop repeats while a call comes back full. */
const DISPATCH_BATCH = 50;

/** The roles whose waiting sessions overflow into `role` (config routing.overflow). */
export function overflowInto(overflow: Record<string, { afterMs: number; to: string[] }>, role: string): OverflowSource[] {
  return Object.entries(overflow)
    .filter(([from, o]) => from !== role && o.to.includes(role))
    .map(([from, o]) => ({ role: from, afterMs: o.afterMs }));
}

const key = (shop: string, id: string) => `${shop}\u0000${id}`;

/**
 * Matches waiting sessions with agents and keeps the clocks on offers and agent grace
 * periods. Correctness lives in the store's atomic steps; the timers here only make
 * things happen on time. An instance that dies takes its timers along, which is why the
 * Sweeper re-finds due offers and grace periods from the store.
 */
export class Router {
  private readonly dispatching = new Map<string, { again: boolean }>();
  private readonly offerTimers: KeyedTimers;
  private readonly graceTimers: KeyedTimers;
  private readonly inflight = new Set<Promise<unknown>>();
  private stopped = false;
  private readonly plan: PlanRecorder;

  constructor(private readonly d: Deps) {
    this.plan = new PlanRecorder(d);
    this.offerTimers = new KeyedTimers(d.now);
    this.graceTimers = new KeyedTimers(d.now);
  }

  /** Runs dispatch for one role soon; calls while one runs fold into one more pass. */
  kick(shop: string, role: string): void {
    if (this.stopped) return;
    const k = key(shop, role);
    const running = this.dispatching.get(k);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: false };
    this.dispatching.set(k, state);
    this.track(this.dispatchLoop(shop, role, state).finally(() => this.dispatching.delete(k)));
  }

  kickAll(shop: string): void {
    for (const role of this.d.config().routing.roles) this.kick(shop, role);
  }

  private async dispatchLoop(shop: string, role: string, state: { again: boolean }): Promise<void> {
    try {
      do {
        state.again = false;
        let offers: Offer[];
        do {
          const { offerTimeoutMs, overflow } = this.d.config().routing;
          const now = this.d.now();
          // Outside its business hours a role's sessions wait as left messages and its agents
          // get nothing; the sweep dispatches again every pass while sessions wait, so the
          // first agent in the morning gets the oldest.
          const sc = resolveShop(this.d.config(), shop);
          if (!roleOpen(sc, role, now)) return;
          const sources = overflowInto(overflow, role).filter((src) => roleOpen(sc, src.role, now));
          offers = await this.d.store.dispatch(shop, role, now, offerTimeoutMs, DISPATCH_BATCH, sources);
          await Promise.all(offers.map((o) => this.deliverOffer(shop, o, role)));
        } while (offers.length === DISPATCH_BATCH && !this.stopped);
      } while (state.again && !this.stopped);
    } catch (err) {
      this.d.logger.error({ err, shop, role }, 'dispatch failed');
    }
  }

  private async deliverOffer(shop: string, offer: Offer, dispatched: string): Promise<void> {
    const { sessionId, agentId, role, expiresAt } = offer;
    this.d.metrics.offers.inc({ shop, role, outcome: 'made' });
    if (offer.overflow) {
      this.d.metrics.overflows.inc({ shop, role, to: dispatched });
      this.plan.overflowed(shop, role);
    }
    if (offer.sticky) this.d.metrics.sticky.inc({ shop, role, outcome: offer.sticky });
    // The admin view's counts, shared by every instance (the metrics above are this one's).
    if (offer.overflow) this.countRouting(shop, role, 'overflowed');
    if (offer.sticky === 'hit') this.countRouting(shop, role, 'sticky');
    this.d.logger.info({ shop, sessionId, agentId, role, expiresAt }, 'session offered');
    this.offerTimers.at(key(shop, sessionId), expiresAt, () => this.track(this.expireOffer(shop, sessionId)));
    const [preview, s] = await Promise.all([
      this.d.store.lastEvents(shop, sessionId, this.d.config().routing.previewEvents),
      this.d.store.getSession(shop, sessionId),
    ]);
    await this.d.store.bus.publish(
      { kind: 'agent', shop, id: agentId },
      encode({ type: 'offer', sessionId, role, expiresAt, preview: preview.map((e) => messageFrame(sessionId, e)), ...(s ? { buyer: buyerCard(s) } : {}), ...(offer.overflow ? { overflow: true } : {}), ...(offer.sticky === 'hit' ? { sticky: true } : {}) }),
    );
  }

  /** Counting is best effort: a store hiccup must not fail the offer it counts. */
  countRouting(shop: string, role: string, what: RouteCount): void {
    this.d.store.countRouting(shop, role, what).catch((err) => this.d.logger.warn({ err, shop, role, what }, 'routing count failed'));
  }

  /** The offer was answered here; its timer has nothing left to do. */
  offerSettled(shop: string, sessionId: string): void {
    this.offerTimers.cancel(key(shop, sessionId));
  }

  async expireOffer(shop: string, sessionId: string): Promise<void> {
    try {
      const { offerTimeoutMs } = this.d.config().routing;
      const r = await this.d.store.expireOffer(shop, sessionId, this.d.now(), offerTimeoutMs);
      if (!r) return;
      this.d.metrics.offers.inc({ shop, role: r.role, outcome: 'expired' });
      this.d.logger.info({ shop, sessionId, agentId: r.agentId, role: r.role }, 'offer expired');
      await this.d.store.bus.publish({ kind: 'agent', shop, id: r.agentId }, encode({ type: 'revoked', sessionId, reason: 'expired' }));
      await this.requeued(shop, [r]);
    } catch (err) {
      this.d.logger.error({ err, shop, sessionId }, 'offer expiry failed');
    }
  }

  /** Tells re-queued buyers their new place and looks for the next agent. */
  async requeued(shop: string, sessions: Requeued[]): Promise<void> {
    const roles = new Set<string>();
    for (const s of sessions) roles.add(s.role);
    for (const role of roles) this.kick(shop, role);
    await Promise.all(sessions.map((s) => this.announcePosition(shop, s.sessionId, s.buyerId, s.role)));
  }

  async announcePosition(shop: string, sessionId: string, buyerId: string, role: string): Promise<void> {
    const position = await this.d.store.queuePosition(shop, role, sessionId);
    if (position === null) return; // already offered again
    await this.d.store.bus.publish({ kind: 'buyer', shop, id: buyerId }, encode({ type: 'queue', sessionId, role, position }));
  }

  /**
   * One of an agent's connections is gone (closed, or its instance died). When it was the last
   * one the agent goes offline: offers go back to the queue now, sessions after grace.
   */
  async agentGone(shop: string, agentId: string, connId: string): Promise<void> {
    const { agentGraceMs } = this.d.config().routing;
    const r = await this.d.store.agentDisconnect(shop, agentId, connId, this.d.now(), agentGraceMs);
    if (!r.offline) return;
    this.d.logger.info({ shop, agentId, graceUntil: r.graceUntil, requeuedOffers: r.requeued.length }, 'agent offline');
    if (r.graceUntil) this.scheduleGrace(shop, agentId, r.graceUntil);
    if (r.requeued.length) await this.requeued(shop, r.requeued);
  }

  scheduleGrace(shop: string, agentId: string, until: number): void {
    this.graceTimers.at(key(shop, agentId), until, () => this.track(this.expireGrace(shop, agentId)));
  }

  cancelGrace(shop: string, agentId: string): void {
    this.graceTimers.cancel(key(shop, agentId));
  }

  async expireGrace(shop: string, agentId: string): Promise<void> {
    try {
      const requeued = await this.d.store.expireGrace(shop, agentId, this.d.now());
      if (!requeued.length) return;
      this.d.logger.info({ shop, agentId, sessions: requeued.map((r) => r.sessionId) }, 'agent grace over, sessions re-queued');
      await this.requeued(shop, requeued);
    } catch (err) {
      this.d.logger.error({ err, shop, agentId }, 'grace expiry failed');
    }
  }

  /** Keeps background work visible so shutdown can wait for it. */
  track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => {});
    return p;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.offerTimers.cancelAll();
    this.graceTimers.cancelAll();
    await Promise.allSettled([...this.inflight]);
  }
}
