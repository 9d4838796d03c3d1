import { SHOPS_PER_SWEEP } from '../store/active.ts';
import type { Closer } from './closer.ts';
import type { Deps } from './deps.ts';
import { Periodic } from './periodic.ts';
import type { ReplyWatch } from './reply-watch.ts';
import type { Router } from './router.ts';

/** Shops swept at once: enough to hide round trips, few enough not to flood the store. */
const PARALLEL_SHOPS = 16;

/**
 * The clocks kept in the store, read back periodically by every instance: offers and grace
 * periods another (maybe dead) instance timed, rating windows, idle chats, missed replies and
 * sessions waiting too long, plus exclusions (after a decline) that ran out with nobody
 * waking up. Only shops the store's index of active shops says are due are read, so an idle
 * shop costs nothing. Every step it triggers re-checks its condition atomically, so
 * instances sweeping at once are safe.
 */
export class Sweeper {
  private readonly periodic: Periodic;

  constructor(
    private readonly d: Deps,
    private readonly router: Router,
    private readonly closer: Closer,
    private readonly replies: ReplyWatch,
  ) {
    this.periodic = new Periodic(() => d.config().routing.sweepIntervalMs, () => this.sweepNow());
  }

  start(): void {
    this.periodic.start();
  }

  stop(): void {
    this.periodic.stop();
  }

  sweep(): Promise<void> {
    return this.periodic.runOnce();
  }

  private async sweepNow(): Promise<void> {
    try {
      const now = this.d.now();
      const due = await this.d.store.dueShops(now, SHOPS_PER_SWEEP);
      for (let i = 0; i < due.length; i += PARALLEL_SHOPS) {
        await Promise.all(due.slice(i, i + PARALLEL_SHOPS).map(({ shop, mark }) => this.sweepShop(shop, mark, now)));
      }
    } catch (err) {
      this.d.logger.warn({ err }, 'sweep failed');
    }
  }

  private async sweepShop(shop: string, mark: number, now: number): Promise<void> {
    try {
      const { sessions, routing } = this.d.config();
      const silentSince = sessions.idleCloseMs > 0 ? now - sessions.idleCloseMs : null;
      const replyCutoff = now - routing.replyWindowMs;
      const queuedBefore = sessions.maxQueuedMs > 0 ? now - sessions.maxQueuedMs : null;
      const work = await this.d.store.sweepShop(shop, mark, now, {
        silentSince,
        idleCloseMs: sessions.idleCloseMs,
        replyCutoff,
        replyWindowMs: routing.replyWindowMs,
        queuedBefore,
        maxQueuedMs: sessions.maxQueuedMs,
        abandonMs: sessions.abandonMs > 0 ? sessions.abandonMs : null,
        roles: routing.roles,
      });
      const log = (what: string, id: string) => (err: unknown) => this.d.logger.error({ err, shop, [what]: id }, 'sweep step failed');
      await Promise.all([
        ...work.offers.map((sid) => this.router.expireOffer(shop, sid)),
        ...work.grace.map((aid) => this.router.expireGrace(shop, aid)),
        ...work.closing.map((sid) => this.closer.finish(shop, sid, true).catch(log('sessionId', sid))),
        ...work.idle.map((sid) => this.closer.idle(shop, sid, silentSince!).catch(log('sessionId', sid))),
        ...work.replies.map((sid) => this.replies.check(shop, sid, replyCutoff).catch(log('sessionId', sid))),
        ...work.queueExpired.map((sid) => this.closer.queueTimeout(shop, sid, queuedBefore!).catch(log('sessionId', sid))),
        ...work.abandoned.map((sid) => this.closer.abandon(shop, sid, now - sessions.abandonMs).catch(log('sessionId', sid))),
      ]);
      if (work.queued > 0 || work.offers.length || work.grace.length || work.replies.length) this.router.kickAll(shop);
    } catch (err) {
      this.d.logger.warn({ err, shop }, 'sweep of a shop failed');
    }
  }
}
