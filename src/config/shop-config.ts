import type { Config } from './schema.ts';
import type { ContextConfig } from './context-schema.ts';
import type { WebhookConfig } from './webhooks-schema.ts';
import type { BotTexts, BotsConfig, IntentConfig, ModerationConfig, ShopOverride } from './bots-schema.ts';

/** The effective intent/bots/moderation settings of one shop: global config + `shops.<id>`. */
export interface ShopConfig {
  shop: string;
  /** What `{shop}` prints and the pages show: never the id. */
  displayName: string;
  intent: IntentConfig;
  defaultRole: string;
  bots: BotsConfig;
  moderation: ModerationConfig;
  context?: ContextConfig;
  /** Webhook subscribers: the global ones, then the shop's own (`shops.<id>.webhooks`). */
  webhooks: readonly WebhookConfig[];
  /** The event types any of them wants (sorted): what the scripts write to the shop's outbox. */
  webhookEvents: readonly string[];
}

const cache = new WeakMap<Config, Map<string, ShopConfig>>();

/**
 * Resolves a shop's settings. `intent` and `moderation` of an override replace the global
 * ones; `defaultRole` falls back to `routing.defaultRole`; `bots` is a shallow merge of the
 * override's fields over the global ones, except `texts` and `roleNames` (merged field by field) and
 * `roles` (merged per role, then field by field). Memoized per config object and shop, so
 * calling it on every message costs a map lookup. The result is shared: do not mutate it.
 */
export function resolveShop(config: Config, shop: string): ShopConfig {
  let perShop = cache.get(config);
  if (!perShop) {
    perShop = new Map();
    cache.set(config, perShop);
  }
  let sc = perShop.get(shop);
  if (!sc) {
    sc = compute(config, shop);
    perShop.set(shop, sc);
  }
  return sc;
}

function compute(config: Config, shop: string): ShopConfig {
  // Own property only: a shop id such as "constructor" must not pick up Object.prototype.
  const o: ShopOverride | undefined = Object.hasOwn(config.shops, shop) ? config.shops[shop] : undefined;
  return {
    shop,
    displayName: o?.displayName ?? config.shop.displayName,
    intent: o?.intent ?? config.intent,
    defaultRole: o?.defaultRole ?? config.routing.defaultRole,
    bots: o?.bots ? mergeBots(config.bots, o.bots) : config.bots,
    moderation: o?.moderation ?? config.moderation,
    ...(o?.context ?? config.context ? { context: o?.context ?? config.context } : {}),
    ...webhooksOf(config.webhooks, o?.webhooks ?? []),
  };
}

function webhooksOf(global: readonly WebhookConfig[], own: readonly WebhookConfig[]) {
  const webhooks = [...global, ...own];
  return { webhooks, webhookEvents: [...new Set(webhooks.flatMap((w) => w.events))].sort() };
}

function mergeBots(base: BotsConfig, o: NonNullable<ShopOverride['bots']>): BotsConfig {
  const { texts, roles, roleNames, ...rest } = o;
  const out: BotsConfig = { ...base, ...definedOnly(rest) };
  if (texts) out.texts = { ...base.texts, ...definedOnly(texts) };
  if (roleNames) out.roleNames = { ...base.roleNames, ...roleNames };
  if (roles) {
    const merged: BotsConfig['roles'] = { ...base.roles };
    for (const [role, t] of Object.entries(roles)) merged[role] = { ...base.roles[role], ...definedOnly(t) };
    out.roles = merged;
  }
  return out;
}

/** Drops keys whose value is `undefined`, so they cannot blank out a global value. (`null` stays: quietHours: null means "none".) */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The shop's bot texts for a role: `bots.texts` with `bots.roles[role]` over it. */
export function botTexts(sc: ShopConfig, role: string): BotTexts {
  const r = Object.hasOwn(sc.bots.roles, role) ? sc.bots.roles[role] : undefined;
  return r ? { ...sc.bots.texts, ...definedOnly(r) } : sc.bots.texts;
}

/** A role's name as buyers see it. */
export function roleName(sc: ShopConfig, role: string): string {
  return Object.hasOwn(sc.bots.roleNames, role) ? sc.bots.roleNames[role]! : role;
}

/**
 * Fills `{position}`, `{eta}`, `{shop}`, `{role}` and `{hours}`. A placeholder whose value is not given,
 * and any other `{…}`, is left as it is.
 */
export function fillText(template: string, vars: { position?: number; eta?: string; shop: string; role?: string; hours?: string }): string {
  return template.replace(/\{(position|eta|shop|role|hours)\}/g, (whole, name: 'position' | 'eta' | 'shop' | 'role' | 'hours') => {
    const v = vars[name];
    return v === undefined ? whole : String(v);
  });
}
