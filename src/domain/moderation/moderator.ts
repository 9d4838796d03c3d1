import type { ModerationConfig } from '../../config/bots-schema.ts';
import type { Config } from '../../config/schema.ts';
import { resolveShop } from '../../config/shop-config.ts';
import { KeywordMatcher } from '../text/keyword-matcher.ts';
import { normalize } from '../text/normalize.ts';

export type ModerationResult =
  | { ok: true; text: string; masked: string[] }
  | { ok: false; list: string; word: string };

interface ListWord {
  list: string;
  policy: 'block' | 'mask';
}

/**
 * One matcher over all lists, per `moderation` object: shops without their own lists share
 * the global one, and a new config object gets a fresh one.
 */
const compiled = new WeakMap<ModerationConfig, KeywordMatcher<ListWord>>();

function compile(m: ModerationConfig): KeywordMatcher<ListWord> {
  let k = compiled.get(m);
  if (!k) {
    k = new KeywordMatcher(m.lists.flatMap((l) => l.words.map((keyword) => ({ keyword, value: { list: l.name, policy: l.policy } }))));
    compiled.set(m, k);
  }
  return k;
}

/**
 * Checks agent messages against the shop's moderation lists. Case and simplified/traditional
 * Chinese do not matter. A word of a `block` list refuses the message; words of `mask` lists
 * are starred out of the original text (one '*' per UTF-16 unit, so the length stays).
 */
export class Moderator {
  constructor(private readonly config: () => Config) {}

  check(shop: string, text: string): ModerationResult {
    const lists = resolveShop(this.config(), shop).moderation;
    if (lists.lists.length === 0) return { ok: true, text, masked: [] };
    const hits = compile(lists).find(normalize(text));
    if (hits.length === 0) return { ok: true, text, masked: [] };
    // Hits come ordered by position: the first block hit is the first blocked word in the text.
    const blocked = hits.find((h) => h.value.policy === 'block');
    if (blocked) return { ok: false, list: blocked.value.list, word: blocked.keyword };
    const star = new Uint8Array(text.length);
    const masked = new Set<string>();
    for (const h of hits) {
      star.fill(1, h.start, h.end);
      masked.add(h.keyword);
    }
    let out = '';
    let i = 0;
    while (i < text.length) {
      let j = i;
      while (j < text.length && star[j] === star[i]) j++;
      out += star[i] ? '*'.repeat(j - i) : text.slice(i, j);
      i = j;
    }
    return { ok: true, text: out, masked: [...masked] };
  }
}
