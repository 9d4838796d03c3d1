import { performance } from 'node:perf_hooks';
import type { Store } from '../store/types.ts';
import type { Metrics } from './metrics.ts';

/** Methods that are not store round trips (or never return). */
const UNTIMED = new Set(['constructor', 'bus', 'kind', 'shutdown', 'watchSharedConfig']);

/** The store's methods, its class's and their parents', as far as Object. */
function methodNames(store: object): Set<string> {
  const names = new Set<string>();
  for (let o: object | null = store; o && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(o))) {
      if (typeof d.value === 'function' && !UNTIMED.has(name)) names.add(name);
    }
  }
  return names;
}

/**
 * The store with every call timed into `peakdesk_store_seconds{op}`: one place, whatever
 * the store is (Redis scripts, reads, or the embedded store). The timed methods sit on an
 * object whose prototype is the store, made once: a Proxy would run its trap on every read
 * of the store (`store.bus` included) on the gateway's hottest path.
 */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  const timed = Object.create(store) as Record<string, unknown>;
  const methods = store as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of methodNames(store)) {
    const hist = metrics.storeSeconds.labels({ op: name });
    timed[name] = (...args: unknown[]) => {
      const startedAt = performance.now();
      // Looked up at the call, so a method replaced on the store later is the one timed.
      const out = methods[name]!.apply(store, args);
      if (!(out instanceof Promise)) {
        hist.observe((performance.now() - startedAt) / 1000);
        return out;
      }
      return out.then(
        (v: unknown) => {
          hist.observe((performance.now() - startedAt) / 1000);
          return v;
        },
        (err: unknown) => {
          hist.observe((performance.now() - startedAt) / 1000);
          throw err;
        },
      );
    };
  }
  return timed as unknown as Store;
}
