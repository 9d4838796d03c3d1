import * as OpenCC from 'opencc-js';

/**
 * Text normalization for keyword matching: traditional Chinese (Taiwan and Hong Kong
 * variants) to simplified, then lower case.
 *
 * GUARANTEE (relied on by masking): `normalize(text)` has exactly the same UTF-16 length as
 * `text`, and every code point stays at the same index with the same length. A match found
 * at `[start, end)` in the normalized text therefore covers `[start, end)` of the original.
 * To keep it, conversion works code point by code point (phrase conversion could change
 * lengths or shift characters) and a code point whose converted or lower-cased form has a
 * different UTF-16 length is kept as it is (e.g. 'İ', whose lower case is 'i' + U+0307,
 * and rare traditional characters whose simplified form lies outside the BMP).
 * `sameShape` states the guarantee in code; the tests check it.
 */

// One converter for the process: TW variants and HK variants to OpenCC standard
// traditional, then standard traditional to simplified. The two variant tables only
// disagree on a handful of characters, and the order of the chain does not change any.
//
// opencc-js ships .d.ts files whose relative imports lack extensions, so under NodeNext
// resolution everything but `Converter` comes through as `any`: the little used here is
// typed by hand, and checked once at load time.
type DictGroup = readonly (string | readonly (readonly [string, string])[])[];
const cc = OpenCC as unknown as {
  ConverterFactory(...groups: (readonly DictGroup[])[]): (text: string) => string;
  Locale: { from: Record<'tw' | 'hk', readonly DictGroup[]>; to: Record<'cn', readonly DictGroup[]> };
};
const toCn = cc.ConverterFactory(cc.Locale.from.tw, cc.Locale.from.hk, cc.Locale.to.cn);
if (toCn('臺灣衞裡') !== '台湾卫里') throw new Error('opencc-js: traditional → simplified conversion is not working');

/**
 * Characters that are ordinary simplified Chinese and must stay so: the Taiwan variant
 * table maps 么 (as in 什么) to 幺, which would turn every "什么" into "什幺".
 */
const KEEP = new Set(['么']);

const MAX_CACHE = 50_000;
const simplifiedCache = new Map<string, string>();

function simplifyCodePoint(ch: string): string {
  let out = simplifiedCache.get(ch);
  if (out === undefined) {
    out = KEEP.has(ch) ? ch : toCn(ch);
    if (out.length !== ch.length) out = ch;
    if (simplifiedCache.size < MAX_CACHE) simplifiedCache.set(ch, out);
  }
  return out;
}

// Nothing below U+2E80 (CJK radicals) is touched by the Chinese conversion.
const hasCjk = /[\u2e80-\u{3ffff}]/u;

/** Traditional → simplified Chinese, code point by code point; same length and indices as `text`. */
export function toSimplified(text: string): string {
  if (!hasCjk.test(text)) return text;
  let out = '';
  for (const ch of text) out += ch.codePointAt(0)! < 0x2e80 ? ch : simplifyCodePoint(ch);
  return out;
}

function lowerCodePoint(ch: string): string {
  const lower = ch.toLowerCase();
  return lower.length === ch.length ? lower : ch;
}

/**
 * Full-width ASCII (U+FF01–U+FF5E, common in Chinese input methods) folded to ASCII, one
 * UTF-16 unit for one, so "ｖｘ" cannot slip past a block on "vx".
 */
function foldFullWidth(text: string): string {
  return text.replace(/[\uff01-\uff5e]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) - 0xfee0));
}

/** Simplified, half-width and lower-cased text; see the length GUARANTEE above. */
export function normalize(text: string): string {
  const simplified = foldFullWidth(toSimplified(text));
  // Fast path: when lower-casing the whole string keeps its length, no code point changed
  // length (lower-casing never shortens a code point), so it is the per-code-point result.
  const lower = simplified.toLowerCase();
  if (lower.length === simplified.length) return lower;
  let out = '';
  for (const ch of simplified) out += lowerCodePoint(ch);
  return out;
}

/**
 * True when `b` is a valid normalization image of `a`: same UTF-16 length, and a code point
 * starts at every index of `b` where one starts in `a` (no surrogate pair shifted or split).
 */
export function sameShape(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const ha = isHighSurrogate(a.charCodeAt(i));
    if (ha !== isHighSurrogate(b.charCodeAt(i))) return false;
  }
  return true;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
