/** The endpoint's queue is full: the delivery waits in the store instead. */
export class EndpointBusy extends Error {}

interface Endpoint {
  active: number;
  waiting: (() => void)[];
}

/**
 * Bounded concurrency per endpoint (URL origin): at most `limit()` deliveries in flight to
 * one endpoint and `queue()` waiting for it, so a slow endpoint fills only its own slots and
 * every other endpoint's deliveries go on.
 */
export class EndpointPool {
  private readonly endpoints = new Map<string, Endpoint>();

  constructor(
    private readonly limit: () => number,
    private readonly queue: () => number,
  ) {}

  async run<T>(url: string, task: () => Promise<T>): Promise<T> {
    const key = originOf(url);
    let e = this.endpoints.get(key);
    if (!e) {
      e = { active: 0, waiting: [] };
      this.endpoints.set(key, e);
    }
    if (e.active >= this.limit()) {
      if (e.waiting.length >= this.queue()) throw new EndpointBusy(`endpoint ${key} has ${e.waiting.length} deliveries waiting`);
      await new Promise<void>((resolve) => e.waiting.push(resolve));
    }
    e.active++;
    try {
      return await task();
    } finally {
      e.active--;
      const next = e.waiting.shift();
      if (next) next();
      else if (e.active === 0) this.endpoints.delete(key);
    }
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
