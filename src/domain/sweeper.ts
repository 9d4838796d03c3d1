import type { Deps } from './deps.ts';
import type { Router } from './router.ts';

/**
 * Periodic catch-up for timers nobody holds any more: offers and grace periods set by an
 * instance that died, and exclusions (after a decline) that ran out with nobody waking up.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly d: Deps,
    private readonly router: Router,
  ) {}

  start(): void {
    const tick = () => {
      this.timer = setTimeout(async () => {
        await this.sweep();
        if (this.timer) tick();
      }, this.d.config().routing.sweepIntervalMs);
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  async sweep(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const now = this.d.now();
      for (const shop of await this.d.store.shops()) {
        const [offers, grace] = await Promise.all([this.d.store.dueOffers(shop, now), this.d.store.dueGrace(shop, now)]);
        await Promise.all([
          ...offers.map((sid) => this.router.expireOffer(shop, sid)),
          ...grace.map((aid) => this.router.expireGrace(shop, aid)),
        ]);
        this.router.kickAll(shop);
      }
    } catch (err) {
      this.d.logger.warn({ err }, 'sweep failed');
    } finally {
      this.running = false;
    }
  }
}
