import type { RecentRecord } from '../store/recent-stats.ts';
import type { PlanRecord } from '../store/types.ts';
import type { Deps } from './deps.ts';

/**
 * Counts what the staffing plan needs (src/plan) where it happens: a session queued,
 * transferred in, answered, finished, given up on. Each is one small store step, fired
 * without waiting: a stats write that fails costs a count, never a chat. Arrivals, answers
 * (with the wait), abandonment and overflow offers also go to the ops dashboard's short
 * buckets (src/store/recent-stats.ts), counted here so both see the same events.
 */
export class PlanRecorder {
  constructor(private readonly d: Deps) {}

  queued(shop: string, role: string): void {
    this.record(shop, role, { counts: { arrivals: 1 } });
    this.recent(shop, { role, counts: { arrivals: 1 } });
  }

  /** Moved into `role`'s queue by a transfer or a re-classification. */
  transferredIn(shop: string, role: string): void {
    this.record(shop, role, { counts: { transfersIn: 1 } });
  }

  /** An agent accepted; `waitedMs` is set for the first human of the session (its answer). */
  assigned(shop: string, role: string, sessionId: string, agentId: string, waitedMs: number | undefined): void {
    const counts = waitedMs === undefined ? { assigned: 1 } : { assigned: 1, answered: 1, waitMs: waitedMs };
    this.record(shop, role, { counts, assigned: { sessionId, agentId } });
    if (waitedMs !== undefined) this.recent(shop, { role, counts: { answered: 1 }, waitMs: waitedMs });
  }

  /** The agent is done with the session (closed, blocked, transferred away). */
  handled(shop: string, role: string, sessionId: string): void {
    this.record(shop, role, { handled: { sessionId } });
  }

  /** The buyer left while waiting for an agent. */
  abandoned(shop: string, role: string, waitedMs: number): void {
    this.record(shop, role, { counts: { abandoned: 1, abandonWaitMs: waitedMs } });
    this.recent(shop, { role, counts: { abandoned: 1 } });
  }

  /** A session of `role` was offered to an agent of another role (routing.overflow). */
  overflowed(shop: string, role: string): void {
    this.recent(shop, { role, counts: { overflowed: 1 } });
  }

  private record(shop: string, role: string, rec: PlanRecord): void {
    if (!role) return;
    const { bucketMs, retentionMs } = this.d.config().plan;
    this.d.store.recordPlanStats(shop, role, this.d.now(), rec, { bucketMs, retentionMs }).catch((err: unknown) => {
      this.d.logger.warn({ err, shop, role }, 'plan stats not recorded');
    });
  }

  private recent(shop: string, rec: RecentRecord): void {
    if (!rec.role) return;
    const { bucketMs, windowMs } = this.d.config().dashboard;
    this.d.store.recordRecent(shop, this.d.now(), rec, { bucketMs, keepMs: windowMs }).catch((err: unknown) => {
      this.d.logger.warn({ err, shop, role: rec.role }, 'dashboard stats not recorded');
    });
  }
}
