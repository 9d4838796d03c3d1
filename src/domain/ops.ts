import { botTexts, fillText, resolveShop, roleName } from '../config/shop-config.ts';
import { encode, messageFrame } from '../protocol/encode.ts';
import { PeakError } from '../protocol/errors.ts';
import type { MessageOut } from '../protocol/frames.ts';
import type { AgentView, SessionView } from '../store/types.ts';
import type { Deps } from './deps.ts';
import type { Services } from './services.ts';
import { Dashboard } from './dashboard.ts';
import { Monitor } from './monitor.ts';
import { PlanRecorder } from './plan-recorder.ts';
import { PlanService } from './plan-service.ts';
import { BuyerHistory } from './buyer-history.ts';
import { roleOpen } from './bots/business-hours.ts';

export interface QueueRow {
  shop: string;
  role: string;
  depth: number;
  /** Of `depth`, sessions whose buyer is connected. */
  online: number;
  /** Of `depth`, sessions whose buyer is offline (they wait behind the online ones). */
  offline: number;
  /** How long the session at the head has waited; null when the queue is empty. */
  oldestWaitSeconds: number | null;
  /** Inside the role's business hours (bots.businessHours) now. */
  open: boolean;
  /** Routing outcomes so far, all instances: overflow offers, offers to the known agent, abandoned and bot-deflected sessions. */
  overflowed: number;
  sticky: number;
  abandoned: number;
  deflected: number;
}

/**
 * What ops can see and do during the event, for the admin API. Every change goes through
 * the same atomic store steps as the agents' own, so it tells the same people the same way.
 */
export class Ops {
  /** The last half hour per role, and its alerts (GET /v1/admin/stats/recent). */
  readonly dashboard: Dashboard;
  /** Supervisors' live view of a session (GET /v1/admin/sessions/:id/live). */
  readonly monitor: Monitor;
  private readonly plan: PlanRecorder;
  /** The staffing plan from the shop's recorded stats. */
  readonly planning: PlanService;
  /** A buyer's past sessions (GET /v1/admin/buyers/:buyerId/sessions). */
  readonly history: BuyerHistory;

  constructor(
    private readonly d: Deps,
    private readonly svc: Services,
  ) {
    this.dashboard = new Dashboard(d);
    this.monitor = new Monitor(d);
    this.plan = new PlanRecorder(d);
    this.planning = new PlanService(d);
    this.history = new BuyerHistory(d.store);
  }

  async queues(shops: string[]): Promise<QueueRow[]> {
    const now = this.d.now();
    const rows = shops.flatMap((shop) => this.d.config().routing.roles.map((role) => ({ shop, role })));
    return Promise.all(
      rows.map(async ({ shop, role }) => {
        const q = await this.d.store.queueStats(shop, role);
        const oldestWaitSeconds = q.oldestArrivedAt === null ? null : Math.max(0, Math.round((now - q.oldestArrivedAt) / 1000));
        const open = roleOpen(resolveShop(this.d.config(), shop), role, now);
        return { shop, role, depth: q.depth, online: q.depth - q.offline, offline: q.offline, oldestWaitSeconds, open, ...q.counts };
      }),
    );
  }

  /** Shops with something going on (the active index), not every shop ever seen. */
  activeShops(): Promise<string[]> {
    return this.d.store.activeShops();
  }

  agents(shop: string): Promise<AgentView[]> {
    return this.d.store.listAgents(shop);
  }

  async session(shop: string, sessionId: string): Promise<{ session: SessionView; transcript: MessageOut[] } | null> {
    const session = await this.d.store.getSession(shop, sessionId);
    if (!session) return null;
    const events = await this.d.store.readEvents(shop, sessionId, 0);
    return { session, transcript: events.map((e) => messageFrame(sessionId, e)) };
  }

  /** Moves a waiting or served session to another role, as an agent's transfer would. */
  async transfer(shop: string, sessionId: string, toRole: string, note: string | undefined, actor: string) {
    if (!this.d.config().routing.roles.includes(toRole)) throw new PeakError('bad_frame', `toRole: unknown role "${toRole}"`);
    const { offerTimeoutMs, transferBoostMs } = this.d.config().routing;
    const sc = resolveShop(this.d.config(), shop);
    const line = fillText(botTexts(sc, toRole).handover, { shop: sc.displayName, role: roleName(sc, toRole) });
    const r = await this.d.store.transfer(shop, sessionId, actor, toRole, note, this.d.now(), {
      excludeMs: offerTimeoutMs,
      boostMs: transferBoostMs,
      line,
      force: true,
    });
    this.d.metrics.transfers.inc({ shop, from_role: r.fromRole, to_role: toRole });
    this.plan.handled(shop, r.fromRole, sessionId);
    this.plan.transferredIn(shop, toRole);
    this.d.logger.info({ shop, sessionId, fromRole: r.fromRole, toRole, agentId: r.previousAgentId, by: actor }, 'session transferred by ops');
    await this.svc.router.requeued(shop, [{ sessionId, buyerId: r.buyerId, role: toRole }]);
    this.svc.router.kickAll(shop);
    return { sessionId, fromRole: r.fromRole, toRole, position: r.position };
  }

  async close(shop: string, sessionId: string, reason: string, actor: string) {
    await this.svc.closer.end(shop, sessionId, reason, actor);
    return { sessionId, state: 'closed' as const, reason };
  }

  /** Stops offers to an agent; its chats stay with it. Null when the agent is unknown. */
  async away(shop: string, agentId: string, actor: string): Promise<AgentView | null> {
    if (!(await this.d.store.getAgent(shop, agentId))) return null;
    await this.d.store.agentAway(shop, agentId, this.d.now());
    this.d.logger.info({ shop, agentId, by: actor }, 'agent set away by ops');
    await this.d.store.bus.publish({ kind: 'agent', shop, id: agentId }, encode({ type: 'status', status: 'away', reason: 'ops' }));
    return this.d.store.getAgent(shop, agentId);
  }
}
