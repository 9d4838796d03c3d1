import type { ConnRef } from '../store/types.ts';
import type { Deps } from './deps.ts';
import { Periodic } from './periodic.ts';
import type { Router } from './router.ts';
import type { Recovery } from './recovery.ts';

/**
 * Instance liveness. Each instance heartbeats into the store; every instance also looks for
 * ones that went silent (kill -9, a lost machine) and cleans up after them: their agents'
 * connections are dropped as if closed (offers re-queued now, sessions after the grace
 * period unless the agent reconnects anywhere) and their buyers' connection slots freed.
 * Sessions and transcripts live in the store, so reconnecting clients resume on any instance.
 */
export class InstanceWatch {
  private readonly periodic: Periodic;

  constructor(
    private readonly d: Deps,
    private readonly router: Router,
    private readonly recovery: Recovery,
  ) {
    this.periodic = new Periodic(() => d.config().server.heartbeatMs, () => this.beat());
  }

  async start(): Promise<void> {
    await this.d.store.heartbeat(this.d.instanceId, this.d.now());
    this.periodic.start();
  }

  stop(): void {
    this.periodic.stop();
  }

  /** Leaving cleanly: off the list, and any connection whose clean-up did not finish is done now. */
  async leave(): Promise<void> {
    this.periodic.stop();
    const left = await this.d.store.claimInstance(this.d.instanceId);
    if (left?.length) await this.cleanUp(this.d.instanceId, left);
  }

  /** Runs one heartbeat and reaping pass now (tests). */
  check(): Promise<void> {
    return this.periodic.runOnce();
  }

  private async beat(): Promise<void> {
    try {
      // A store that lost its data (Redis restarted empty) gets this instance's state back first.
      await this.recovery.check();
      const now = this.d.now();
      await this.d.store.heartbeat(this.d.instanceId, now);
      const dead = await this.d.store.staleInstances(now - this.d.config().server.instanceTimeoutMs);
      for (const id of dead) if (id !== this.d.instanceId) await this.reap(id);
    } catch (err) {
      this.d.logger.warn({ err }, 'heartbeat failed');
    }
  }

  private async reap(instanceId: string): Promise<void> {
    const conns = await this.d.store.claimInstance(instanceId);
    if (!conns) return;
    this.d.logger.warn({ instanceId, connections: conns.length }, 'instance presumed dead, cleaning up its connections');
    await this.cleanUp(instanceId, conns);
  }

  private async cleanUp(instanceId: string, conns: ConnRef[]): Promise<void> {
    for (const c of conns) {
      try {
        if (c.kind === 'agent') await this.router.agentGone(c.shop, c.id, c.connId);
        else await this.d.store.buyerDisconnect(c.shop, c.id, c.connId, this.d.now());
      } catch (err) {
        this.d.logger.error({ err, instanceId, shop: c.shop, [c.kind === 'agent' ? 'agentId' : 'buyerId']: c.id }, 'clean-up of a dead instance connection failed');
      }
    }
  }
}
