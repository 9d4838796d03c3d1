import type { Config } from '../../config/schema.ts';
import { resolveShop, type ShopConfig } from '../../config/shop-config.ts';
import { KeywordMatcher } from '../text/keyword-matcher.ts';
import { normalize } from '../text/normalize.ts';

const compiled = new WeakMap<Config, Map<string, KeywordMatcher<true>>>();

/** Whether `role` is handled by the FAQ bot until the buyer asks for a person (bots.mode). */
export function isBotFirst(sc: ShopConfig, role: string): boolean {
  return Object.hasOwn(sc.bots.mode, role) && sc.bots.mode[role] === 'bot-first';
}

/** Whether the buyer's text asks for a person (bots.humanKeywords, matched like FAQ keywords). */
export function asksForHuman(config: Config, shop: string, text: string): boolean {
  let perShop = compiled.get(config);
  if (!perShop) compiled.set(config, (perShop = new Map()));
  let matcher = perShop.get(shop);
  if (!matcher) {
    matcher = new KeywordMatcher(resolveShop(config, shop).bots.humanKeywords.map((keyword) => ({ keyword, value: true as const })));
    perShop.set(shop, matcher);
  }
  return matcher.find(normalize(text)).length > 0;
}
