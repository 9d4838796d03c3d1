/**
 * One write per key on its way at a time: a call that comes meanwhile with the same `tag` gets
 * that write's promise instead of sending its own. At midnight a write takes long, and each
 * step of a shop used to send its own until the first was back (a shop's whole line rate of
 * ZADDs, measured as 5 % of the gateway's CPU at its ceiling).
 */
export class InFlight {
  private readonly running = new Map<string, { tag: string; done: Promise<void> }>();

  /** `replace`: start a new write even when one with this tag is on its way. */
  run(key: string, tag: string, start: () => Promise<void>, replace = false): Promise<void> {
    const current = this.running.get(key);
    if (current && current.tag === tag && !replace) return current.done;
    const done = start().finally(() => {
      // A replacing write, or one after clear(), may have taken the place meanwhile.
      if (this.running.get(key)?.done === done) this.running.delete(key);
    });
    this.running.set(key, { tag, done });
    return done;
  }

  clear(): void {
    this.running.clear();
  }
}
