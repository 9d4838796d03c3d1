import type { Store } from '../store/types.ts';
import type { Metrics } from './metrics.ts';

/** Methods that are not store round trips (or never return). */
const UNTIMED = new Set(['bus', 'kind', 'shutdown', 'watchSharedConfig']);

/**
 * The store with every call timed into `peakdesk_store_seconds{op}`: one place, whatever
 * the store is (Redis scripts, reads, or the embedded store).
 */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || typeof value !== 'function' || UNTIMED.has(prop)) return value;
      const hist = metrics.storeSeconds.labels({ op: prop });
      return (...args: unknown[]) => {
        const end = hist.startTimer();
        const out = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (out instanceof Promise) return out.finally(end);
        end();
        return out;
      };
    },
  });
}
