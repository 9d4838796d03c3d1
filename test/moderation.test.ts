import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/config/load.ts';
import type { Config } from '../src/config/schema.ts';
import { Moderator } from '../src/domain/moderation/moderator.ts';

const { config: shipped } = loadConfig({ PEAKDESK_CONFIG: 'config/default.json' });

describe('Moderator with the shipped lists', () => {
  const m = new Moderator(() => shipped);

  it.each([
    ['加我微信聊吧', '微信'],
    ['加微：abc123', '加微'],
    ['私聊，加我VX', 'vx'],
    ['私聊，加我Vx', 'vx'],
    ['我的V信是 xyz', 'v信'],
    ['留个QQ号吧', 'qq号'],
    ['可以支付寶轉賬嗎', '支付宝转账'], // traditional
    ['我們私下交易更便宜', '私下交易'],
    ['線下付款也行', '线下付款'],
    ['我的微信\uFE0F', '微信'], // an invisible variation selector does not hide it
    ['我的微信\u200D号', '微信'], // nor a zero-width joiner
    ['加微信', '加微'], // overlapping words: the one that starts first
    ['加我ＶＸ', 'vx'], // full-width letters
  ])('blocks %s', (text, word) => {
    expect(m.check('shop-1', text)).toEqual({ ok: false, list: 'off-platform', word });
  });

  it.each([
    ['京东上更便宜吗？我们这里也是正品', '**上更便宜吗？我们这里也是正品', ['京东']],
    ['比拼多多和抖音小店都划算', '比***和****都划算', ['拼多多', '抖音小店']],
    ['京東、拼多多都有', '**、***都有', ['京东', '拼多多']], // traditional
    ['😀京东😀', '😀**😀', ['京东']],
  ])('masks %s', (text, masked, words) => {
    const r = m.check('shop-1', text);
    expect(r).toEqual({ ok: true, text: masked, masked: words });
    if (r.ok) expect(r.text.length).toBe(text.length);
  });

  it('lets clean text through untouched', () => {
    expect(m.check('shop-1', '亲，今天下单48小时内发货哦')).toEqual({ ok: true, text: '亲，今天下单48小时内发货哦', masked: [] });
  });

  it('a block wins over masks in the same message', () => {
    expect(m.check('shop-1', '京东太贵，我微信私下交易')).toEqual({ ok: false, list: 'off-platform', word: '微信' });
  });
});

describe('Moderator', () => {
  const make = (raw: Record<string, any>) => {
    const config = parseConfig(raw);
    return new Moderator(() => config);
  };

  it('reports the first blocked word by position, across lists', () => {
    const m = make({
      moderation: {
        lists: [
          { name: 'payments', words: ['转账'], policy: 'block' },
          { name: 'contact', words: ['电话', '微信'], policy: 'block' },
        ],
      },
    });
    expect(m.check('s', '加微信或者转账')).toEqual({ ok: false, list: 'contact', word: '微信' });
    expect(m.check('s', '转账后打电话')).toEqual({ ok: false, list: 'payments', word: '转账' });
  });

  it('masks overlapping and nested words as one starred run', () => {
    const m = make({ moderation: { lists: [{ name: 'rivals', words: ['abcd', 'cdef', 'bc', '抖音', '抖音小店'], policy: 'mask' }] } });
    expect(m.check('s', 'xABCDEFy')).toEqual({ ok: true, text: 'x******y', masked: ['abcd', 'bc', 'cdef'] });
    expect(m.check('s', '去抖音小店看看')).toEqual({ ok: true, text: '去****看看', masked: ['抖音', '抖音小店'] });
    expect(m.check('s', 'abcd abcd')).toEqual({ ok: true, text: '**** ****', masked: ['abcd', 'bc'] });
  });

  it('ignores case and simplified/traditional on both sides and keeps the original text elsewhere', () => {
    const m = make({ moderation: { lists: [{ name: 'rivals', words: ['淘寶', 'TaoBao'], policy: 'mask' }] } });
    const r = m.check('s', '別去淘宝或TAOBAO買，這裡更優惠');
    expect(r).toEqual({ ok: true, text: '別去**或******買，這裡更優惠', masked: ['淘寶', 'TaoBao'] });
  });

  it('preserves the length when the text holds emoji and characters the normalization keeps', () => {
    const m = make({ moderation: { lists: [{ name: 'rivals', words: ['京东'], policy: 'mask' }] } });
    const text = 'İ👍🏻京東𠮶嗰京东!';
    const r = m.check('s', text);
    expect(r).toEqual({ ok: true, text: 'İ👍🏻**𠮶嗰**!', masked: ['京东'] });
    if (r.ok) expect(r.text.length).toBe(text.length);
  });

  it('uses a shop’s own lists instead of the global ones', () => {
    const m = make({
      moderation: { lists: [{ name: 'global', words: ['微信'], policy: 'block' }] },
      shops: { 'shop-2': { moderation: { lists: [{ name: 'own', words: ['微信'], policy: 'mask' }] } }, 'shop-3': { moderation: { lists: [] } } },
    });
    expect(m.check('shop-1', '微信')).toEqual({ ok: false, list: 'global', word: '微信' });
    expect(m.check('shop-2', '微信')).toEqual({ ok: true, text: '**', masked: ['微信'] });
    expect(m.check('shop-3', '微信')).toEqual({ ok: true, text: '微信', masked: [] });
  });

  it('follows a config swap', () => {
    let config: Config = parseConfig({ moderation: { lists: [{ name: 'a', words: ['x'], policy: 'block' }] } });
    const m = new Moderator(() => config);
    expect(m.check('s', 'x').ok).toBe(false);
    config = parseConfig({ moderation: { lists: [{ name: 'a', words: ['x'], policy: 'mask' }] } });
    expect(m.check('s', 'x')).toEqual({ ok: true, text: '*', masked: ['x'] });
  });

  it('without lists everything passes', () => {
    expect(make({}).check('s', '加微信')).toEqual({ ok: true, text: '加微信', masked: [] });
  });
});

describe('Moderator against hidden characters and gaps inside a word', () => {
  const m = new Moderator(() => shipped);

  it.each([
    ['加我微\u200b信', '微信'], // zero-width space
    ['加我微\u200c\u200d信', '微信'], // zero-width non-joiner + joiner
    ['加我微\u2060信', '微信'], // word joiner
    ['加我微\ufeff信', '微信'], // BOM / zero-width no-break space
    ['加我微\u00ad信', '微信'], // soft hyphen (Cf)
    ['加我微\u202e信', '微信'], // bidi override (Cf)
    ['加我微 信', '微信'],
    ['加我微　信', '微信'], // ideographic space
    ['加我微.信', '微信'],
    ['加我微 . 信', '微信'],
    ['加我微-信', '微信'],
    ['加我微*信', '微信'],
    ['私聊加我v\u200bx', 'vx'],
    ['私聊，加我 V X 123456', 'vx'],
    ['私聊，加我v.x', 'vx'],
    ['留个Q Q 号吧', 'qq号'],
    ['支付宝 转账也行', '支付宝转账'],
  ])('blocks %j', (text, word) => {
    expect(m.check('shop-1', text)).toEqual({ ok: false, list: 'off-platform', word });
  });

  it('stars the hidden word and what was slipped into it, keeping the rest of the original text', () => {
    expect(m.check('shop-1', '去京\u200b东看看')).toEqual({ ok: true, text: '去***看看', masked: ['京东'] });
    expect(m.check('shop-1', '比拼 多 多便宜？')).toEqual({ ok: true, text: '比*****便宜？', masked: ['拼多多'] });
    expect(m.check('shop-1', '京. 东和抖音小店')).toEqual({ ok: true, text: '****和****', masked: ['京东', '抖音小店'] });
  });

  it.each([
    'faq question', // "qq" across two words
    'new xbox', // "wx" would be across two words; "vx" neither
    'move x to the left', // "vx" glued from the end of one word and a one-letter word
    'dev xyz',
    '稍微。。。。信任我', // a long run of punctuation is a real gap
    '我们这里是正品，放心购买',
    'Please review the next order',
  ])('lets %j through', (text) => {
    expect(m.check('shop-1', text)).toEqual({ ok: true, text, masked: [] });
  });

  it('still catches a word next to a latin word when nothing was bridged', () => {
    const mm = new Moderator(() => parseConfig({ moderation: { lists: [{ name: 'x', words: ['wx'], policy: 'block' }] } }));
    expect(mm.check('s', 'new xbox').ok).toBe(true);
    expect(mm.check('s', 'add w x').ok).toBe(false);
    expect(mm.check('s', 'add w\u200bx').ok).toBe(false);
  });

  it('matches words made only of separators on the plain text', () => {
    const mm = new Moderator(() => parseConfig({ moderation: { lists: [{ name: 'x', words: ['$$$'], policy: 'mask' }] } }));
    expect(mm.check('s', 'only $$$ today')).toEqual({ ok: true, text: 'only *** today', masked: ['$$$'] });
  });
});
