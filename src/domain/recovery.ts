import type { Deps } from './deps.ts';

/** A live connection that can register itself with the store again from what it holds in memory. */
export interface Recoverable {
  recover(): Promise<void>;
}

/**
 * Redis restarted empty (or was flushed): everything this instance's connections had
 * registered is gone. The shops it knew are indexed for sweeping again, every connection
 * registers again (an agent's readiness, a buyer's connection slot), and buyers whose
 * sessions were lost are told so and get a new one.
 */
export class Recovery {
  readonly connections = new Set<Recoverable>();

  constructor(private readonly d: Deps) {}

  /** Runs with every heartbeat; does nothing unless the store says its data was lost. */
  async check(): Promise<boolean> {
    if (!(await this.d.store.checkEpoch())) return false;
    const shops = await this.d.store.reindexShops(this.d.now());
    this.d.logger.warn({ connections: this.connections.size, shops }, 'the store lost its data (Redis restarted empty?): registering live connections again');
    for (const conn of [...this.connections]) {
      await conn.recover().catch((err) => this.d.logger.warn({ err }, 'registering a connection again failed'));
    }
    return true;
  }
}
