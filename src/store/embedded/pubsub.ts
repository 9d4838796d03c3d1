export interface Subscriber {
  receive(channel: string, message: string, sharded: boolean): void;
}

/**
 * Redis' pub/sub in one process: classic and sharded channels are separate namespaces (as in
 * Redis 7), receivers are counted and chosen at publish time, and delivery happens after the
 * publishing command or script has finished, in publish order.
 */
export class PubSubHub {
  private readonly channels = [new Map<string, Set<Subscriber>>(), new Map<string, Set<Subscriber>>()];
  private readonly pending: [Subscriber, string, string, boolean][] = [];

  subscribe(sub: Subscriber, channel: string, sharded: boolean): void {
    const map = this.channels[sharded ? 1 : 0]!;
    let set = map.get(channel);
    if (!set) map.set(channel, (set = new Set()));
    set.add(sub);
  }

  unsubscribe(sub: Subscriber, channel: string, sharded: boolean): void {
    const map = this.channels[sharded ? 1 : 0]!;
    const set = map.get(channel);
    if (!set) return;
    set.delete(sub);
    if (set.size === 0) map.delete(channel);
  }

  publish(channel: string, message: string, sharded: boolean): number {
    const set = this.channels[sharded ? 1 : 0]!.get(channel);
    if (!set) return 0;
    if (this.pending.length === 0) queueMicrotask(() => this.flush());
    for (const sub of set) this.pending.push([sub, channel, message, sharded]);
    return set.size;
  }

  private flush(): void {
    const batch = this.pending.splice(0);
    for (const [sub, channel, message, sharded] of batch) sub.receive(channel, message, sharded);
  }
}
