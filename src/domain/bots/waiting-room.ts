import { botTexts, fillText, resolveShop } from '../../config/shop-config.ts';
import { encode } from '../../protocol/encode.ts';
import type { Deps } from '../deps.ts';
import type { Bots } from './bots.ts';
import { etaSeconds, formatEta } from './eta.ts';
import { Periodic } from '../periodic.ts';
import { roleOpen } from './business-hours.ts';

/** Waiting sessions checked at once; the next slice starts when these are done. */
const CHECK_SLICE = 100;

interface Waiting {
  shop: string;
  buyerId: string;
  role: string;
  queuedAt: number;
  /** Last position sent in a `queue` frame. */
  position: number;
  /** Position and time of the last position text the bot said. */
  toldPosition: number;
  toldAt: number;
  busyTold: boolean;
}

/**
 * Keeps waiting buyers company: looks at the places in line of the sessions whose buyers are
 * connected here, sends a `queue` frame whenever a place changes, and has the bot say the
 * position and ETA when it moved meaningfully — and "we are busy" once after a long wait.
 * Polling the store (not local events) keeps it right when other instances assign sessions.
 */
export class WaitingRoom {
  private readonly waiting = new Map<string, Waiting>();
  private readonly periodic: Periodic;

  constructor(
    private readonly d: Deps,
    private readonly bots: Bots,
  ) {
    this.periodic = new Periodic(() => d.config().bots.queueUpdates.checkIntervalMs, () => this.checkAll());
  }

  /** A local buyer's session is (now) waiting in `role` at `position`. */
  track(sessionId: string, w: { shop: string; buyerId: string; role: string; position: number; queuedAt: number }): void {
    const prev = this.waiting.get(sessionId);
    const same = prev?.role === w.role;
    this.waiting.set(sessionId, {
      ...w,
      // Position updates re-track a session too; its wait began when it entered this role's queue.
      queuedAt: same ? prev.queuedAt : w.queuedAt,
      toldPosition: same ? prev.toldPosition : w.position,
      toldAt: prev?.toldAt ?? this.d.now(),
      busyTold: prev?.busyTold ?? false,
    });
  }

  untrack(sessionId: string): void {
    this.waiting.delete(sessionId);
  }

  get size(): number {
    return this.waiting.size;
  }

  start(): void {
    this.periodic.start();
  }

  stop(): void {
    this.periodic.stop();
  }

  check(): Promise<void> {
    return this.periodic.runOnce();
  }

  private async checkAll(): Promise<void> {
    const rates = new Map<string, Promise<number | null>>();
    const rateOf = (shop: string, role: string) => {
      const k = `${shop}\u0000${role}`;
      let r = rates.get(k);
      if (!r) rates.set(k, (r = this.d.store.assignmentRate(shop, role, this.d.now())));
      return r;
    };
    // In slices, not all at once: thousands of waiting buyers checked in one burst would
    // queue their store calls and frames ahead of every live chat message for a moment.
    const all = [...this.waiting];
    for (let i = 0; i < all.length; i += CHECK_SLICE) {
      await Promise.all(
        all.slice(i, i + CHECK_SLICE).map(([sid, w]) =>
          this.checkOne(sid, w, rateOf).catch((err) => this.d.logger.warn({ err, sessionId: sid }, 'queue update failed')),
        ),
      );
    }
  }

  private async checkOne(sessionId: string, w: Waiting, rateOf: (shop: string, role: string) => Promise<number | null>): Promise<void> {
    const position = await this.d.store.queuePosition(w.shop, w.role, sessionId);
    if (position === null) {
      // Offered, assigned, moved or closed: whoever changed it tells the buyer.
      const s = await this.d.store.getSession(w.shop, sessionId);
      if (!s || (s.state !== 'queued' && s.state !== 'offered')) this.untrack(sessionId);
      return;
    }
    const now = this.d.now();
    const sc = resolveShop(this.d.config(), w.shop);
    const { minIntervalMs, minPositionChange } = sc.bots.queueUpdates;
    const eta = etaSeconds(position, await rateOf(w.shop, w.role));
    if (position !== w.position) {
      w.position = position;
      await this.d.store.bus.publish(
        { kind: 'buyer', shop: w.shop, id: w.buyerId },
        encode({ type: 'queue', sessionId, role: w.role, position, ...(eta !== undefined ? { etaSeconds: eta } : {}) }),
      );
    }
    const texts = botTexts(sc, w.role);
    const moved = w.toldPosition - position;
    if (moved > 0 && (moved >= minPositionChange || position <= 3) && now - w.toldAt >= minIntervalMs) {
      const said = await this.bots.say(
        w.shop,
        sessionId,
        fillText(texts.queueUpdate, { shop: sc.displayName, position, eta: formatEta(eta, texts.etaUnknown) }),
        'proactive',
        w.role,
      );
      if (said?.seq) {
        w.toldPosition = position;
        w.toldAt = now;
      }
    }
    const { afterMs } = sc.bots.busy;
    // Outside business hours the bot has said when agents are back; "we are busy" would be wrong.
    if (!w.busyTold && afterMs > 0 && now - w.queuedAt >= afterMs && roleOpen(sc, w.role, now)) {
      const said = await this.bots.say(w.shop, sessionId, fillText(texts.busy, { shop: sc.displayName }), 'proactive', w.role);
      if (said?.seq) w.busyTold = true;
    }
  }
}
