import AhoCorasick from 'modern-ahocorasick';
import { normalize } from './normalize.ts';

export interface KeywordEntry<T> {
  keyword: string;
  value: T;
}

export interface KeywordHit<T> {
  /** The keyword as given to the constructor (not normalized). */
  keyword: string;
  value: T;
  /** UTF-16 range in the searched text; `end` is exclusive. */
  start: number;
  end: number;
}

/**
 * Code points that modern-ahocorasick would glue onto the preceding character: it matches
 * whole grapheme clusters only, so "微信" is not found in "微信\uFE0F" (variation selector)
 * or "微信\u200D" (zero-width joiner), nor "e" in "e\u0301". Keywords are plain substrings
 * here, and an invisible joiner must not hide a blocked word, so these code points are
 * swapped for a stand-alone placeholder (same UTF-16 length) in keywords and searched text.
 */
const GRAPHEME_GLUE = /[\p{Grapheme_Extend}\p{Mc}\p{Emoji_Modifier}\u200D]/gu;
const PLACEHOLDER = '\uFFFF';

function unglue(s: string): string {
  GRAPHEME_GLUE.lastIndex = 0;
  if (!GRAPHEME_GLUE.test(s)) return s;
  return s.replace(GRAPHEME_GLUE, (m) => PLACEHOLDER.repeat(m.length));
}

/**
 * Finds many keywords at once (Aho–Corasick). Compile once, reuse for every text. Keywords
 * are normalized with `normalize()`; the text passed to `find` must be normalized too.
 */
export class KeywordMatcher<T> {
  private readonly ac: AhoCorasick<KeywordEntry<T>> | null;
  /**
   * How every keyword begins: its first two UTF-16 units (one number), or its only unit. A
   * text with no such pair or unit holds no keyword, and most lines hold none: the automaton
   * walks the text grapheme by grapheme through Intl.Segmenter, ~5 % of the gateway's CPU
   * under load when it ran on every line.
   */
  private readonly openings = new Set<number>();
  private readonly singles = new Set<number>();

  /** `fold`: a further transformation of normalized keywords, applied to searched texts too (see skeleton.ts). */
  constructor(entries: readonly KeywordEntry<T>[], fold: (normalized: string) => string = (k) => k) {
    const patterns = entries
      .map((e) => ({ pattern: unglue(fold(normalize(e.keyword))), data: e }))
      .filter((p) => p.pattern.length > 0);
    this.ac = patterns.length > 0 ? new AhoCorasick(patterns) : null;
    for (const { pattern } of patterns) {
      if (pattern.length === 1) this.singles.add(pattern.charCodeAt(0));
      else this.openings.add(pattern.charCodeAt(0) * 0x10000 + pattern.charCodeAt(1));
    }
  }

  /** Whether some keyword could begin somewhere in `text` (never false where one occurs). */
  private mayHold(text: string): boolean {
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i);
      if (this.singles.has(unit)) return true;
      if (i + 1 < text.length && this.openings.has(unit * 0x10000 + text.charCodeAt(i + 1))) return true;
    }
    return false;
  }

  /**
   * Every occurrence of every keyword in `normalizedText`, overlapping ones included,
   * ordered by start, then by entry order.
   */
  find(normalizedText: string): KeywordHit<T>[] {
    if (!this.ac || normalizedText.length === 0) return [];
    const text = unglue(normalizedText);
    if (!this.mayHold(text)) return [];
    const hits = this.ac.search(text);
    hits.sort((a, b) => a.start - b.start || a.patternIndex - b.patternIndex);
    return hits.map((h) => ({ keyword: h.data!.keyword, value: h.data!.value, start: h.start, end: h.end }));
  }
}
