import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/config/load.ts';
import type { Config } from '../src/config/schema.ts';
import { botTexts, fillText, resolveShop } from '../src/config/shop-config.ts';
import { defaultRoleClassifier } from '../src/domain/classifier.ts';
import { IntentClassifier } from '../src/domain/intent/intent-classifier.ts';
import { TestClient } from './support/client.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';
import { startRedis, type RedisHandle } from './support/redis-server.ts';

const { config: shipped } = loadConfig({ PEAKDESK_CONFIG: 'config/default.json' });

type Lang = 'zh-Hans' | 'zh-Hant' | 'en';
interface Example {
  text: string;
  role: string;
  lang: Lang;
  /** false: no rule matched, the default role applies. */
  matched?: boolean;
}

const ex = (role: string, lang: Lang, texts: string[]): Example[] => texts.map((text) => ({ text, role, lang }));

/** Buyers' first messages and the queue the shipped config/default.json sends them to. */
const TABLE: Example[] = [
  ...ex('pre-sale', 'zh-Hans', ['这件衣服有货吗？', '有优惠吗', '双十一有什么活动？', '这个是正品吗，什么时候发货', '身高165体重50，尺码推荐一下']),
  ...ex('pre-sale', 'zh-Hant', ['這件衣服有貨嗎？', '請問有什麼活動嗎', '是正品嗎？包裝怎麼樣']),
  ...ex('pre-sale', 'en', ['Is this in stock?', 'Any promotion for Double 11?', 'When will you ship it?']),

  ...ex('bargaining', 'zh-Hans', ['能优惠点吗', '老板，便宜点呗', '太贵了，最低价多少', '这个包邮吗']),
  ...ex('bargaining', 'zh-Hant', ['可以便宜點嗎', '太貴了，能少嗎']),
  ...ex('bargaining', 'en', ['Can you make it cheaper?', 'Too expensive, what is your best price?', 'discount please']),

  ...ex('order-edit', 'zh-Hans', ['我拍错颜色了，能改成黑色吗', '地址填错了，帮我改一下', '能帮我改尺码吗，要L码', '我想修改订单']),
  ...ex('order-edit', 'zh-Hant', ['我拍錯顏色了', '地址填錯了，可以改地址嗎']),
  ...ex('order-edit', 'en', ['I ordered the wrong size', 'Can I change my order to black?', 'please change the shipping address']),

  ...ex('after-sale', 'zh-Hans', ['我要退款', '物流三天没更新了', '收到的杯子坏了，质量问题', '快递显示签收了但我没收到']),
  ...ex('after-sale', 'zh-Hant', ['我要退貨', '物流怎麼還沒更新', '收到的時候已經壞了，要換貨']),
  ...ex('after-sale', 'en', ['I want a refund', 'where is my parcel? tracking says nothing', 'The item arrived broken']),

  // No keyword, no pattern: the default role, and the classifier says it had no match.
  ...['在吗', '你好，亲', 'hello?', '👍', '在嗎？'].map((text): Example => ({ text, role: 'pre-sale', lang: 'zh-Hans', matched: false })),
];

describe('intent table coverage', () => {
  it('has at least 3 simplified, 2 traditional and 2 English examples per role', () => {
    for (const role of shipped.routing.roles) {
      const of = (lang: Lang) => TABLE.filter((e) => e.role === role && e.lang === lang && e.matched !== false).length;
      expect(of('zh-Hans'), role).toBeGreaterThanOrEqual(3);
      expect(of('zh-Hant'), role).toBeGreaterThanOrEqual(2);
      expect(of('en'), role).toBeGreaterThanOrEqual(2);
    }
  });
});

describe('IntentClassifier with the shipped config/default.json', () => {
  const classifier = new IntentClassifier(() => shipped);

  it.each(TABLE)('$role ← $text', ({ text, role, matched = true }) => {
    const c = classifier.classify('shop-1', text);
    expect(c.role).toBe(role);
    expect(c.matched).toBe(matched);
    if (!matched) expect(c.keywords).toEqual([]);
  });

  it('a longer bargaining keyword beats the pre-sale keyword inside it (rule order on a tie)', () => {
    expect(classifier.classify('shop-1', '有优惠吗')).toEqual({ role: 'pre-sale', matched: true, keywords: ['优惠'] });
    expect(classifier.classify('shop-1', '能优惠点吗')).toEqual({ role: 'bargaining', matched: true, keywords: ['优惠点'] });
  });

  it('reports the winning rule’s keywords as configured, even when the buyer wrote traditional or upper case', () => {
    expect(classifier.classify('shop-1', '太貴了，能少嗎')).toEqual({ role: 'bargaining', matched: true, keywords: ['太贵', '能少吗'] });
    expect(classifier.classify('shop-1', 'REFUND NOW').keywords).toEqual(['refund']);
  });
});

describe('IntentClassifier scoring', () => {
  const make = (raw: Record<string, any>) => {
    const config = parseConfig(raw);
    return new IntentClassifier(() => config);
  };

  it('scores distinct keywords plus matching patterns; highest wins, ties go to the earlier rule', () => {
    const c = make({
      intent: {
        rules: [
          { role: 'pre-sale', keywords: ['a1', 'a2'] },
          { role: 'after-sale', keywords: ['b1', 'b2', 'b3'], patterns: ['^x'] },
        ],
      },
    });
    expect(c.classify('s', 'a1 b1').role).toBe('pre-sale'); // 1:1 → earlier
    expect(c.classify('s', 'a1 a2 b1').role).toBe('pre-sale'); // 2:1
    expect(c.classify('s', 'a1 a2 b1 b2').role).toBe('pre-sale'); // 2:2 → earlier
    expect(c.classify('s', 'a1 a2 b1 b2 b3').role).toBe('after-sale'); // 2:3
    expect(c.classify('s', 'x a1 a2 b1 b2').role).toBe('after-sale'); // 2:(2 + pattern)
    // The same keyword found twice counts once.
    expect(c.classify('s', 'b1 b1 b1 a1 a2')).toEqual({ role: 'pre-sale', matched: true, keywords: ['a1', 'a2'] });
  });

  it('tries regex patterns case-insensitively on the normalized text', () => {
    const c = make({
      routing: { defaultRole: 'bargaining' },
      intent: {
        rules: [
          { role: 'after-sale', patterns: ['订单\\d{6,}.*(没到|没收到)', '^where is order #?\\d+'] },
          { role: 'order-edit', patterns: ['改成?(\\d+|[smlx]+)码'] },
          // Written in traditional Chinese: still matches, the pattern is simplified too.
          { role: 'pre-sale', patterns: ['這款.*(現貨|預售)'] },
        ],
      },
    });
    expect(c.classify('s', '訂單20261111001還沒收到')).toEqual({ role: 'after-sale', matched: true, keywords: [] });
    expect(c.classify('s', 'WHERE IS ORDER #12345?').role).toBe('after-sale');
    expect(c.classify('s', '麻烦改成XL码').role).toBe('order-edit');
    expect(c.classify('s', '这款是现货吗').role).toBe('pre-sale');
    expect(c.classify('s', '這款是預售嗎').role).toBe('pre-sale');
    expect(c.classify('s', 'where is the order')).toEqual({ role: 'bargaining', matched: false, keywords: [] });
  });

  it('matches traditional keywords in the config against simplified text and vice versa', () => {
    const c = make({ intent: { rules: [{ role: 'after-sale', keywords: ['發票'] }] } });
    expect(c.classify('s', '开发票').role).toBe('after-sale');
    expect(c.classify('s', '開發票').role).toBe('after-sale');
  });

  it('uses a shop’s own rules and default role, and the global ones for other shops', () => {
    const c = make({
      intent: { rules: [{ role: 'after-sale', keywords: ['退款'] }] },
      shops: {
        'shop-vip': {
          defaultRole: 'bargaining',
          intent: { rules: [{ role: 'order-edit', keywords: ['改地址'], patterns: ['^vip\\d+'] }] },
        },
        'shop-quiet': { defaultRole: 'after-sale' },
      },
    });
    expect(c.classify('shop-vip', '退款')).toEqual({ role: 'bargaining', matched: false, keywords: [] }); // global rules replaced
    expect(c.classify('shop-vip', '我想改地址')).toEqual({ role: 'order-edit', matched: true, keywords: ['改地址'] });
    expect(c.classify('shop-vip', 'VIP007 hello').role).toBe('order-edit');
    expect(c.classify('shop-quiet', '退款').role).toBe('after-sale'); // global rules
    expect(c.classify('shop-quiet', '你好')).toEqual({ role: 'after-sale', matched: false, keywords: [] });
    expect(c.classify('shop-1', '你好').role).toBe('pre-sale');
    expect(c.classify('constructor', '你好').role).toBe('pre-sale');
  });

  it('with no rules every message gets the default role', () => {
    const c = make({});
    expect(c.classify('s', '我要退款')).toEqual({ role: 'pre-sale', matched: false, keywords: [] });
  });

  it('follows a config swap (rules are compiled per config object)', () => {
    let config: Config = parseConfig({ intent: { rules: [{ role: 'after-sale', keywords: ['退款'] }] } });
    const c = new IntentClassifier(() => config);
    expect(c.classify('s', '退款').role).toBe('after-sale');
    config = parseConfig({ intent: { rules: [{ role: 'bargaining', keywords: ['退款'] }] } });
    expect(c.classify('s', '退款').role).toBe('bargaining');
  });

  it('defaultRoleClassifier always answers the default role, unmatched', () => {
    let role = 'pre-sale';
    const c = defaultRoleClassifier(() => role);
    expect(c.classify('s', '我要退款')).toEqual({ role: 'pre-sale', matched: false, keywords: [] });
    role = 'after-sale';
    expect(c.classify('s', 'x').role).toBe('after-sale');
  });
});

describe('resolveShop', () => {
  const config = parseConfig({
    intent: { rules: [{ role: 'after-sale', keywords: ['退款'] }] },
    bots: {
      texts: { greeting: 'hi {shop}', busy: 'busy', queueUpdate: '{position}', etaUnknown: '?' },
      roles: { 'after-sale': { greeting: 'sorry {shop}', busy: 'very busy' }, 'pre-sale': { busy: 'pre busy' } },
      quietHours: null,
      campaigns: [{ name: 'd11', from: '2026-11-10T20:00:00+08:00', to: '2026-11-12T02:00:00+08:00', text: 'sale' }],
      limits: { perMinute: 2 },
    },
    moderation: { lists: [{ name: 'g', words: ['x'], policy: 'block' }] },
    shops: {
      s2: {
        defaultRole: 'bargaining',
        intent: { rules: [] },
        bots: { texts: { busy: 'shop busy' }, roles: { 'after-sale': { busy: 'shop very busy' } }, timezone: 'Asia/Hong_Kong' },
        moderation: { lists: [] },
      },
    },
  });

  it('gives a shop without an override the global settings, memoized', () => {
    const sc = resolveShop(config, 's1');
    expect(sc).toMatchObject({ shop: 's1', defaultRole: 'pre-sale', intent: config.intent, bots: config.bots, moderation: config.moderation });
    expect(resolveShop(config, 's1')).toBe(sc);
    expect(resolveShop(parseConfig({}), 's1')).not.toBe(sc);
  });

  it('replaces intent and moderation, merges bots (texts and roles field by field), keeps unnamed globals', () => {
    const sc = resolveShop(config, 's2');
    expect(sc.defaultRole).toBe('bargaining');
    expect(sc.intent.rules).toEqual([]);
    expect(sc.moderation.lists).toEqual([]);
    expect(sc.bots.texts).toMatchObject({ greeting: 'hi {shop}', busy: 'shop busy' });
    expect(sc.bots.roles).toEqual({ 'after-sale': { greeting: 'sorry {shop}', busy: 'shop very busy' }, 'pre-sale': { busy: 'pre busy' } });
    expect(sc.bots.timezone).toBe('Asia/Hong_Kong');
    // Not named by the shop: the global values, not the schema defaults.
    expect(sc.bots.quietHours).toBeNull();
    expect(sc.bots.limits.perMinute).toBe(2);
    expect(sc.bots.campaigns.map((c) => c.name)).toEqual(['d11']);
    expect(config.bots.texts.busy).toBe('busy'); // the global config is not modified
  });

  it('botTexts lays the role’s texts over the shop’s', () => {
    expect(botTexts(resolveShop(config, 's2'), 'after-sale')).toMatchObject({ greeting: 'sorry {shop}', busy: 'shop very busy' });
    expect(botTexts(resolveShop(config, 's2'), 'order-edit')).toMatchObject({ greeting: 'hi {shop}', busy: 'shop busy' });
    expect(botTexts(resolveShop(config, 's1'), 'pre-sale').busy).toBe('pre busy');
  });

  it('names a shop by its displayName, else the global shop.displayName, never by its id', () => {
    const c = parseConfig({ shop: { displayName: '小店' }, shops: { s1: { displayName: '示例旗舰店' } } });
    expect(resolveShop(c, 's1').displayName).toBe('示例旗舰店');
    expect(resolveShop(c, 's2').displayName).toBe('小店');
    expect(resolveShop(parseConfig({}), 's2').displayName).toBe('本店');
  });

  it('fillText fills known placeholders and leaves the rest', () => {
    expect(fillText('{shop}: 前面{position}位，约{eta}', { shop: '小店', position: 3, eta: '2分钟' })).toBe('小店: 前面3位，约2分钟');
    expect(fillText('{position}/{eta}/{who}/{shop}', { shop: 's', position: 0 })).toBe('0/{eta}/{who}/s');
    expect(fillText('{shop}{shop}', { shop: '$&' })).toBe('$&$&');
  });
});

describe('intent routing end to end (gateway on a real Redis)', () => {
  let redis: RedisHandle;
  let g: RunningGateway;
  let n = 0;

  beforeAll(async () => {
    redis = await startRedis();
    g = await startGateway({
      redisUrl: redis.url,
      config: {
        intent: structuredClone(shipped.intent),
        shops: {
          'shop-vip': {
            defaultRole: 'after-sale',
            intent: { rules: [{ role: 'bargaining', keywords: ['团购价'], patterns: ['^vip\\d+'] }] },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await g?.stop();
    await redis?.stop();
  });

  async function firstQueue(text: string, shop = 'shop-1'): Promise<Record<string, any>> {
    const c = await TestClient.connect(g.url, 'buyer', await g.token({ sub: `buyer-${++n}`, kind: 'buyer', shop }));
    try {
      await c.next('welcome');
      c.send({ type: 'message', clientMsgId: '1', text });
      const q = await c.next('queue');
      expect(c.violations).toEqual([]);
      return q;
    } finally {
      await c.close();
    }
  }

  it.each(TABLE)('$role ← $text', async ({ text, role }) => {
    expect(await firstQueue(text)).toMatchObject({ role });
  });

  it.each([
    ['我想要团购价', 'bargaining'],
    ['VIP123 在吗', 'bargaining'],
    ['能便宜点吗', 'after-sale'], // the shop's rules replace the global ones: no match, its default role
    ['你好', 'after-sale'],
  ])('per-shop rules and default role: %s → %s', async (text, role) => {
    expect(await firstQueue(text, 'shop-vip')).toMatchObject({ role });
  });
});
