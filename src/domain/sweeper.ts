import type { Deps } from './deps.ts';
import { Periodic } from './periodic.ts';
import type { Router } from './router.ts';

/**
 * Periodic catch-up for timers nobody holds any more: offers and grace periods set by an
 * instance that died, and exclusions (after a decline) that ran out with nobody waking up.
 */
export class Sweeper {
  private readonly periodic: Periodic;

  constructor(
    private readonly d: Deps,
    private readonly router: Router,
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
    }
  }
}
