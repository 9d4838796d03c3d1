import { performance } from 'node:perf_hooks';
import type { Store } from '../store/types.ts';
import type { Metrics } from './metrics.ts';

/** Methods that are not store round trips (or never return). */
const UNTIMED = new Set(['bus', 'kind', 'shutdown', 'watchSharedConfig']);

/**
 * The store with every call timed into `peakdesk_store_seconds{op}`: one place, whatever
 * the store is (Redis scripts, reads, or the embedded store).
 */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  // One wrapper per method, made at its first use rather than at every call.
  const wrapped = new Map<string, (...args: unknown[]) => unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || typeof value !== 'function' || UNTIMED.has(prop)) return value;
      let fn = wrapped.get(prop);
      if (!fn) {
        const hist = metrics.storeSeconds.labels({ op: prop });
        fn = (...args: unknown[]) => {
          const startedAt = performance.now();
          const end = () => hist.observe((performance.now() - startedAt) / 1000);
          const out = (Reflect.get(target, prop, receiver) as (...a: unknown[]) => unknown).apply(target, args);
          if (out instanceof Promise) return out.finally(end);
          end();
          return out;
        };
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}
