import type { z } from 'zod';
import type { Config } from '../../config/schema.ts';
import type { faqEntrySchema } from '../../config/bots-schema.ts';
import { resolveShop } from '../../config/shop-config.ts';
import { KeywordMatcher } from '../text/keyword-matcher.ts';
import { normalize } from '../text/normalize.ts';

export type FaqEntry = z.infer<typeof faqEntrySchema>;

const compiled = new WeakMap<Config, Map<string, KeywordMatcher<FaqEntry>>>();

/** The FAQ entry a buyer's text asks about: the one with the earliest keyword hit. */
export function matchFaq(config: Config, shop: string, text: string): FaqEntry | undefined {
  let perShop = compiled.get(config);
  if (!perShop) compiled.set(config, (perShop = new Map()));
  let matcher = perShop.get(shop);
  if (!matcher) {
    const faq = resolveShop(config, shop).bots.faq;
    matcher = new KeywordMatcher(faq.flatMap((entry) => entry.keywords.map((keyword) => ({ keyword, value: entry }))));
    perShop.set(shop, matcher);
  }
  const hits = matcher.find(normalize(text));
  if (!hits.length) return undefined;
  return hits.reduce((a, b) => (b.start < a.start ? b : a)).value;
}
