import type { Address, Bus } from '../store/types.ts';

export type Sink = (payload: string) => void;

function keyOf(a: Address): string {
  return `${a.kind}\u0000${a.shop}\u0000${a.id}`;
}

/**
 * Local fan-out: one bus subscription per buyer/agent address however many of its
 * connections (tabs, devices) this instance holds, released with the last one.
 */
export class Hub {
  private readonly sinks = new Map<string, { address: Address; sinks: Set<Sink>; ready: Promise<void> }>();

  private readonly catchUps = new Set<() => void>();

  constructor(private readonly bus: Bus) {
    bus.onResubscribe(() => {
      for (const fn of this.catchUps) fn();
    });
  }

  /**
   * Resolves once the bus delivers to `sink`, so nothing published after that is missed.
   * `catchUp` runs when the bus lost events (it had to subscribe again): the connection
   * replays what it missed from the store.
   */
  async attach(address: Address, sink: Sink, catchUp?: () => void): Promise<() => Promise<void>> {
    const key = keyOf(address);
    let entry = this.sinks.get(key);
    if (!entry) {
      const sinks = new Set<Sink>();
      const ready = this.bus.subscribe(address, (payload) => {
        for (const s of sinks) s(payload);
      });
      entry = { address, sinks, ready };
      this.sinks.set(key, entry);
    }
    entry.sinks.add(sink);
    try {
      await entry.ready;
    } catch (err) {
      entry.sinks.delete(sink);
      if (entry.sinks.size === 0 && this.sinks.get(key) === entry) this.sinks.delete(key);
      throw err;
    }
    const held = entry;
    if (catchUp) this.catchUps.add(catchUp);
    return async () => {
      if (catchUp) this.catchUps.delete(catchUp);
      held.sinks.delete(sink);
      if (held.sinks.size === 0 && this.sinks.get(key) === held) {
        this.sinks.delete(key);
        await this.bus.unsubscribe(address);
      }
    };
  }

  get addresses(): number {
    return this.sinks.size;
  }
}
