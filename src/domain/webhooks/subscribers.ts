import type { Config } from '../../config/schema.ts';
import type { WebhookConfig } from '../../config/webhooks-schema.ts';

const cache = new WeakMap<Config, Map<string, { subs: readonly WebhookConfig[]; events: readonly string[] }>>();

function resolve(config: Config, shop: string) {
  let perShop = cache.get(config);
  if (!perShop) {
    perShop = new Map();
    cache.set(config, perShop);
  }
  let r = perShop.get(shop);
  if (!r) {
    // Own property only: a shop id such as "constructor" must not pick up Object.prototype.
    const own = Object.hasOwn(config.shops, shop) ? (config.shops[shop]?.webhooks ?? []) : [];
    const subs = [...config.webhooks, ...own];
    r = { subs, events: [...new Set(subs.flatMap((s) => s.events))].sort() };
    if (perShop.size > 100_000) perShop.clear();
    perShop.set(shop, r);
  }
  return r;
}

/** A shop's webhook subscribers: the global ones, then its own (`shops.<id>.webhooks`). Memoized per config. */
export function subscribersOf(config: Config, shop: string): readonly WebhookConfig[] {
  return resolve(config, shop).subs;
}

/** The event types any subscriber of the shop wants (sorted): what the scripts write to its outbox. */
export function eventsOf(config: Config, shop: string): readonly string[] {
  return resolve(config, shop).events;
}
