/**
 * The "skeleton" of a normalized text for sensitive-word matching: what is left when the
 * characters people slip into a word to hide it are taken out — invisible format characters
 * (zero-width space, joiners, word joiner, BOM, bidi marks, variation selectors: Unicode Cf and
 * Default_Ignorable_Code_Point) and short runs of spacing, punctuation and symbols between two
 * characters. "微\u200b信", "微 信", "微.信" and "v\u200bx" all become "微信" / "vx".
 *
 * `index[i]` is the UTF-16 index in the input of the skeleton's unit `i`, so a match found in
 * the skeleton maps back onto the original text (for masking).
 */

/** Invisible: dropped wherever they are, any number of them. */
const IGNORABLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/u;
/**
 * Visible separators: dropped only in runs of at most MAX_GAP between two kept characters.
 * Emoji and other pictographs (So) are content, not separators.
 */
const SEPARATOR = /[\p{White_Space}\p{P}\p{Sm}\p{Sc}\p{Sk}]/u;
/** Longer gaps separate words for real ("微。。。。信" reads as two sentences). */
export const MAX_GAP = 3;

/**
 * Letters of scripts that write words with spaces between them. A match that had to bridge a
 * visible gap must not start or end inside one of their words ("faq question" is no "qq").
 * Chinese, Japanese and Korean characters are words of their own, so no such check applies.
 */
const SPACED_LETTER = /(?![\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}])\p{L}/u;

export interface Skeleton {
  text: string;
  index: number[];
  /** `gap[i]`: a visible separator was dropped between skeleton units i-1 and i. */
  gap: boolean[];
}

export function skeleton(text: string): Skeleton {
  let out = '';
  const index: number[] = [];
  const gap: boolean[] = [];
  let pending: number[] = []; // indices of separators seen since the last kept character
  let pendingVisible = 0;
  const flush = (keep: boolean) => {
    if (keep) for (const i of pending) pushUnit(i);
    pending = [];
    pendingVisible = 0;
  };
  const pushUnit = (i: number) => {
    out += text[i];
    index.push(i);
    gap.push(false);
  };
  let i = 0;
  for (const ch of text) {
    const at = i;
    i += ch.length;
    if (IGNORABLE.test(ch)) continue;
    if (SEPARATOR.test(ch)) {
      for (let k = 0; k < ch.length; k++) pending.push(at + k);
      pendingVisible++;
      continue;
    }
    // A gap between two kept characters is bridged when short; at the start it is kept as is.
    const bridged = out.length > 0 && pendingVisible > 0 && pendingVisible <= MAX_GAP;
    flush(!bridged);
    for (let k = 0; k < ch.length; k++) {
      pushUnit(at + k);
      if (k === 0 && bridged) gap[gap.length - 1] = true;
    }
  }
  flush(true);
  return { text: out, index, gap };
}

/** The code point ending at or starting at `i` in `text` is a letter of a spaced script. */
function spacedLetterBefore(text: string, i: number): boolean {
  if (i <= 0) return false;
  const lo = text.charCodeAt(i - 1);
  const start = lo >= 0xdc00 && lo <= 0xdfff && i >= 2 ? i - 2 : i - 1;
  return SPACED_LETTER.test(String.fromCodePoint(text.codePointAt(start)!));
}
function spacedLetterAt(text: string, i: number): boolean {
  return i < text.length && SPACED_LETTER.test(String.fromCodePoint(text.codePointAt(i)!));
}

/**
 * Maps a match `[start, end)` in `s.text` back to the original `text`; null when the match
 * bridged a visible gap but starts or ends inside a word of a spaced script (not a real hit).
 */
export function mapBack(text: string, s: Skeleton, start: number, end: number): { start: number; end: number } | null {
  const from = s.index[start]!;
  const last = s.index[end - 1]!;
  const to = last + 1;
  let bridged = false;
  for (let k = start + 1; k < end; k++) if (s.gap[k]) bridged = true;
  if (bridged) {
    if (spacedLetterAt(text, from) && spacedLetterBefore(text, from)) return null;
    if (spacedLetterBefore(text, to) && spacedLetterAt(text, to)) return null;
  }
  return { start: from, end: to };
}
