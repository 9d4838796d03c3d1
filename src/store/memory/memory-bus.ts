import type { Address, Bus } from '../types.ts';

function keyOf(address: Address): string {
  return `${address.kind === 'buyer' ? 'b' : 'a'}\u0000${address.shop}\u0000${address.id}`;
}

/**
 * In-process pub/sub with the delivery guarantees of the Redis bus: one handler per address
 * (subscribing again replaces it), asynchronous delivery in publish order, and payloads for
 * an address nobody listens to (at delivery time) are dropped.
 */
export class MemoryBus implements Bus {
  private readonly handlers = new Map<string, (payload: string) => void>();

  async subscribe(address: Address, onPayload: (payload: string) => void): Promise<void> {
    this.handlers.set(keyOf(address), onPayload);
  }

  async unsubscribe(address: Address): Promise<void> {
    this.handlers.delete(keyOf(address));
  }

  /** In one process nothing is ever lost between publisher and subscriber. */
  onResubscribe(): void {}

  async publish(address: Address, payload: string): Promise<void> {
    this.deliver(address, payload);
  }

  /**
   * Schedules delivery now, synchronously, so a store method can publish inside its atomic
   * step and every subscriber sees payloads in the order they were published.
   */
  deliver(address: Address, payload: string): void {
    const key = keyOf(address);
    queueMicrotask(() => {
      // Looked up at delivery time: after unsubscribe nothing more arrives, as with Redis.
      this.handlers.get(key)?.(payload);
    });
  }
}
