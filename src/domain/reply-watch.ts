import type { Deps } from './deps.ts';
import type { Router } from './router.ts';

/**
 * The platforms' "5-minute reply rate": a buyer an agent leaves waiting past the reply window
 * is a miss, counted once per wait, and escalated as configured (`alert` the agent, or
 * `reoffer` the session to someone else).
 */
export class ReplyWatch {
  constructor(
    private readonly d: Deps,
    private readonly router: Router,
  ) {}

  /** Looks at a session whose buyer has waited since at or before `cutoff`. */
  async check(shop: string, sessionId: string, cutoff: number): Promise<void> {
    const { replyEscalation: escalate, offerTimeoutMs } = this.d.config().routing;
    const now = this.d.now();
    const r = await this.d.store.replyMiss(shop, sessionId, now, cutoff, { escalate, excludeMs: offerTimeoutMs });
    if (!r) return;
    this.d.metrics.replyMisses.inc({ shop, role: r.role, escalation: escalate });
    this.d.logger.warn(
      { shop, sessionId, agentId: r.agentId, role: r.role, waitingMs: now - r.waitingSince, escalation: escalate },
      'reply window missed',
    );
    if (r.requeued) await this.router.requeued(shop, [{ sessionId, buyerId: r.buyerId, role: r.role }]);
  }
}
