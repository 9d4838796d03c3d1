import type { ModerationConfig } from '../../config/bots-schema.ts';
import type { Config } from '../../config/schema.ts';
import { resolveShop } from '../../config/shop-config.ts';
import { KeywordMatcher } from '../text/keyword-matcher.ts';
import { normalize } from '../text/normalize.ts';
import { mapBack, skeleton } from '../text/skeleton.ts';

export type ModerationResult =
  | { ok: true; text: string; masked: string[] }
  | { ok: false; list: string; word: string };

interface ListWord {
  list: string;
  policy: 'block' | 'mask';
}

interface Matchers {
  /** Words matched on the skeleton of the text (hidden characters and gaps taken out). */
  skeleton: KeywordMatcher<ListWord>;
  /** Words that are nothing but separators ("$$$"), which only the plain text can show. */
  plain: KeywordMatcher<ListWord>;
}

/**
 * Matchers over all lists, per `moderation` object: shops without their own lists share
 * the global one, and a new config object gets fresh ones.
 */
const compiled = new WeakMap<ModerationConfig, Matchers>();

function compile(m: ModerationConfig): Matchers {
  let k = compiled.get(m);
  if (!k) {
    const entries = m.lists.flatMap((l) => l.words.map((keyword) => ({ keyword, value: { list: l.name, policy: l.policy } })));
    k = {
      skeleton: new KeywordMatcher(entries, (w) => skeleton(w).text),
      plain: new KeywordMatcher(entries.filter((e) => skeleton(normalize(e.keyword)).text === '')),
    };
    compiled.set(m, k);
  }
  return k;
}

type Hit = { keyword: string; value: ListWord; start: number; end: number };

/** Every hit in `text`, as ranges of the original text, ordered by position. */
function findHits(m: Matchers, text: string): Hit[] {
  const norm = normalize(text);
  const skel = skeleton(norm);
  const hits: Hit[] = [];
  for (const h of m.skeleton.find(skel.text)) {
    const range = mapBack(norm, skel, h.start, h.end);
    if (range) hits.push({ ...h, ...range });
  }
  hits.push(...m.plain.find(norm));
  return hits.sort((a, b) => a.start - b.start);
}

/**
 * Checks agent messages against the shop's moderation lists. Case, simplified/traditional
 * Chinese, invisible characters and short gaps inside a word do not matter (see skeleton.ts). A word of a `block` list refuses the message; words of `mask` lists
 * are starred out of the original text (one '*' per UTF-16 unit, so the length stays).
 */
export class Moderator {
  constructor(private readonly config: () => Config) {}

  check(shop: string, text: string): ModerationResult {
    const lists = resolveShop(this.config(), shop).moderation;
    if (lists.lists.length === 0) return { ok: true, text, masked: [] };
    const hits = findHits(compile(lists), text);
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
