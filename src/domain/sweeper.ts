import type { Closer } from './closer.ts';
import type { Deps } from './deps.ts';
import { Periodic } from './periodic.ts';
import type { ReplyWatch } from './reply-watch.ts';
import type { Router } from './router.ts';

/**
 * The clocks kept in the store, read back periodically by every instance: offers and grace
 * periods another (maybe dead) instance timed, rating windows, idle chats and missed
 * replies, plus exclusions (after a decline) that ran out with nobody waking up. Every step
 * it triggers re-checks its condition atomically, so instances sweeping at once are safe.
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
      const { sessions, routing } = this.d.config();
      const store = this.d.store;
      for (const shop of await store.shops()) {
        const silentSince = now - sessions.idleCloseMs;
        const replyCutoff = now - routing.replyWindowMs;
        const [offers, grace, closing, idle, replies] = await Promise.all([
          store.dueOffers(shop, now),
          store.dueGrace(shop, now),
          store.dueClosing(shop, now),
          sessions.idleCloseMs > 0 ? store.dueIdle(shop, silentSince) : [],
          store.dueReplies(shop, replyCutoff),
        ]);
        const log = (what: string, id: string) => (err: unknown) => this.d.logger.error({ err, shop, [what]: id }, 'sweep step failed');
        await Promise.all([
          ...offers.map((sid) => this.router.expireOffer(shop, sid)),
          ...grace.map((aid) => this.router.expireGrace(shop, aid)),
          ...closing.map((sid) => this.closer.finish(shop, sid, true).catch(log('sessionId', sid))),
          ...idle.map((sid) => this.closer.idle(shop, sid, silentSince).catch(log('sessionId', sid))),
          ...replies.map((sid) => this.replies.check(shop, sid, replyCutoff).catch(log('sessionId', sid))),
        ]);
        this.router.kickAll(shop);
      }
    } catch (err) {
      this.d.logger.warn({ err }, 'sweep failed');
    }
  }
}
