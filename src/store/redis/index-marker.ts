import { InFlight } from './in-flight.ts';

/**
 * Marks shops in a zset index (score: the wall clock) before their steps, at most every
 * `every` ms per shop from this instance: the active-shops index and the webhook one
 * (src/store/active.ts says why a mark goes before the step).
 */
export class IndexMarker {
  private readonly marked = new Map<string, number>();
  /** The mark being written, per shop: every step of the shop meanwhile waits for that one. */
  private readonly writing = new InFlight();

  constructor(
    private readonly write: (shop: string, wall: number) => Promise<unknown>,
    private readonly every: number,
  ) {}

  /**
   * `force`: now, whatever this instance marked lately. Nothing to write gives `undefined`, not
   * a promise: a step of a shop marked lately (nearly every step) waits for nothing.
   */
  mark(shop: string, force = false): Promise<void> | undefined {
    const wall = Date.now();
    const last = this.marked.get(shop);
    if (!force && last !== undefined && wall - last < this.every) return undefined;
    return this.writing.run(
      shop,
      '',
      () =>
        this.write(shop, wall).then(() => {
          if (this.marked.size > 10_000) for (const [k, t] of this.marked) if (wall - t >= this.every) this.marked.delete(k);
          this.marked.set(shop, wall);
        }),
      force,
    );
  }

  /** The index was lost with the data: every shop is marked again at its next step. */
  clear(): void {
    this.marked.clear();
    this.writing.clear();
  }
}
