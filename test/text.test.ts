import AhoCorasick from 'modern-ahocorasick';
import { describe, expect, it, vi } from 'vitest';
import { KeywordMatcher } from '../src/domain/text/keyword-matcher.ts';
import { normalize, sameShape, toSimplified } from '../src/domain/text/normalize.ts';

describe('normalize', () => {
  it.each([
    ['這件有貨嗎', '这件有货吗'],
    ['退貨', '退货'],
    ['REFUND', 'refund'],
    ['我拍錯顏色了', '我拍错颜色了'],
    ['物流怎麼還沒更新', '物流怎么还没更新'],
    // Taiwan and Hong Kong variant forms both end up simplified.
    ['裡面', '里面'],
    ['衞生', '卫生'],
    ['Is This In Stock?', 'is this in stock?'],
    // Simplified text stays as it is (the TW variant table alone would turn 么 into 幺).
    ['什么时候发货', '什么时候发货'],
    ['', ''],
  ])('%s → %s', (input, expected) => {
    expect(normalize(input)).toBe(expected);
  });

  const samples = [
    '這件衣服有貨嗎？Is it IN STOCK? 😀👍🏻',
    '👨‍👩‍👧 家庭裝 ＡＢＣ ｘｙｚ Ｑ',
    'İstanbul İİ 退貨 İ',
    'ǅemal ΣΑΣ ẞ straße Å',
    '𠮶嗰 㗲 𩸽 emoji 🇨🇳 e\u0301 微信\uFE0F',
    '\uD800 lone surrogate \uDC00 at both ends',
    '臺灣 香港 澳門 這裏 那裡 為什麼',
  ];

  it.each(samples)('keeps length and code point positions: %s', (s) => {
    const n = normalize(s);
    expect(n.length).toBe(s.length);
    expect(sameShape(s, n)).toBe(true);
    expect(sameShape(s, toSimplified(s))).toBe(true);
    // Index for index: each code point of the input maps onto one of the same length, in place.
    for (let i = 0; i < s.length; ) {
      const cp = s.codePointAt(i)!;
      const w = cp > 0xffff ? 2 : 1;
      expect(n.codePointAt(i)! > 0xffff ? 2 : 1).toBe(w);
      i += w;
    }
  });

  it('keeps a character whose lower case would change the length (İ)', () => {
    expect('İ'.toLowerCase().length).toBe(2); // the reason
    expect(normalize('İ')).toBe('İ');
    expect(normalize('AİB')).toBe('aİb');
  });

  it('keeps a traditional character whose simplified form lies outside the BMP', () => {
    // 嗰 (Cantonese) converts to 𠮶 (U+20BB6, two UTF-16 units).
    expect(normalize('嗰個')).toBe('嗰个');
  });

  it('folds full-width ASCII to lower-case ASCII in place and leaves emoji alone', () => {
    expect(normalize('ＡＢＣ１２！')).toBe('abc12!');
    expect(normalize('😀OK👍🏻')).toBe('😀ok👍🏻');
  });

  it('does not shift positions: a hit in the normalized text covers the same word in the original', () => {
    const original = '😀親，這件衣服有貨嗎？我要退貨';
    const n = normalize(original);
    const at = n.indexOf('退货');
    expect(original.slice(at, at + 2)).toBe('退貨');
  });
});

describe('KeywordMatcher', () => {
  const words = (list: string[]) => list.map((keyword, i) => ({ keyword, value: i }));

  it('finds every occurrence, overlapping ones included, with UTF-16 positions', () => {
    const m = new KeywordMatcher(words(['he', 'she', 'hers', 'his']));
    const hits = m.find('ushers and his');
    expect(hits.map((h) => [h.keyword, h.start, h.end])).toEqual([
      ['she', 1, 4],
      ['he', 2, 4],
      ['hers', 2, 6],
      ['his', 11, 14],
    ]);
  });

  it('reports repeated and nested occurrences', () => {
    const m = new KeywordMatcher(words(['优惠', '优惠点', '惠点']));
    const hits = m.find(normalize('有優惠嗎？能優惠點嗎'));
    expect(hits.map((h) => [h.keyword, h.start, h.end])).toEqual([
      ['优惠', 1, 3],
      ['优惠', 6, 8],
      ['优惠点', 6, 9],
      ['惠点', 7, 9],
    ]);
  });

  it('counts positions in UTF-16 units past emoji and astral characters', () => {
    const m = new KeywordMatcher(words(['微信']));
    const text = '😀👍🏻𠮶加微信';
    const [hit] = m.find(normalize(text));
    expect(hit).toMatchObject({ keyword: '微信', value: 0, start: 9, end: 11 }); // 2+2+2+2 units, then 加
    expect(text.slice(hit!.start, hit!.end)).toBe('微信');
  });

  it('normalizes keywords: traditional and upper-case keywords match normalized text', () => {
    const m = new KeywordMatcher([
      { keyword: '退貨', value: 'a' },
      { keyword: 'REFUND', value: 'b' },
    ]);
    expect(m.find(normalize('我要退货, Refund please')).map((h) => [h.keyword, h.value])).toEqual([
      ['退貨', 'a'],
      ['REFUND', 'b'],
    ]);
  });

  it('keeps duplicate keywords apart by value', () => {
    const m = new KeywordMatcher([
      { keyword: '快递', value: 1 },
      { keyword: '快遞', value: 2 },
    ]);
    expect(m.find('快递').map((h) => h.value)).toEqual([1, 2]);
  });

  it('matches plain substrings even where a combining mark, variation selector or joiner follows', () => {
    // modern-ahocorasick on its own only matches whole grapheme clusters.
    const m = new KeywordMatcher(words(['微信', 'e', 'vx']));
    expect(m.find('加微信\uFE0F').map((h) => [h.keyword, h.start, h.end])).toEqual([['微信', 1, 3]]);
    expect(m.find('微信\u200D号').map((h) => h.keyword)).toEqual(['微信']);
    expect(m.find('e\u0301').map((h) => h.keyword)).toEqual(['e']);
    expect(m.find('vx\u20E3').map((h) => h.keyword)).toEqual(['vx']);
  });

  it('skips the automaton for a text no keyword can begin in, and still finds every hit', () => {
    const keywords = ['微信', '加微', 'vx', 'q', '支付宝转账', '退货'];
    const m = new KeywordMatcher(words(keywords));
    const search = vi.spyOn(AhoCorasick.prototype, 'search');
    try {
      expect(m.find('亲，在的，请问有什么可以帮您？')).toEqual([]);
      expect(m.find('微笑')).toEqual([]); // 微 opens keywords, but not 微笑
      expect(search).not.toHaveBeenCalled();
      // Texts spliced from keyword pieces and other characters: the same hits as a plain
      // substring search over every keyword.
      const pieces = ['微', '信', '加', 'v', 'x', 'q', '支付', '宝转账', '退', '货', '亲', '，', 'a'];
      let seed = 7;
      const next = () => (seed = (seed * 48271) % 2147483647);
      for (let n = 0; n < 500; n++) {
        const text = Array.from({ length: 1 + (next() % 8) }, () => pieces[next() % pieces.length]).join('');
        const expected: [string, number][] = [];
        keywords.forEach((k) => {
          for (let at = text.indexOf(k); at >= 0; at = text.indexOf(k, at + 1)) expected.push([k, at]);
        });
        const got = m.find(text).map((h) => [h.keyword, h.start] as [string, number]);
        const order = (a: [string, number], b: [string, number]) => a[1] - b[1] || keywords.indexOf(a[0]) - keywords.indexOf(b[0]);
        expect(got, text).toEqual(expected.sort(order));
      }
    } finally {
      search.mockRestore();
    }
  });

  it('works with no entries and with empty text', () => {
    expect(new KeywordMatcher<number>([]).find('anything')).toEqual([]);
    expect(new KeywordMatcher(words(['a'])).find('')).toEqual([]);
  });
});
