import { contextSchema } from './context-schema.ts';
import { webhooksSchema } from './webhooks-schema.ts';
import { z } from 'zod';

/**
 * The tunables of intent routing, waiting-room bots and moderation. Global values apply to
 * every shop; `shops.<id>` overrides them per shop (see resolveShop in shop-config.ts).
 */

export const intentRuleSchema = z
  .object({
    role: z.string().min(1),
    /** Plain substrings; simplified/traditional Chinese and letter case do not matter. */
    keywords: z.array(z.string().min(1)).default([]),
    /** JavaScript regular expressions (case-insensitive), tried on the normalized text. */
    patterns: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const intentSchema = z
  .object({
    /** Ordered: on a tie in match count the earlier rule wins. */
    rules: z.array(intentRuleSchema).default([]),
  })
  .strict();

/** Bot texts; `{position}`, `{eta}`, `{shop}`, `{role}` (its display name) and `{hours}` are filled in. */
export const botTextsSchema = z
  .object({
    greeting: z.string().min(1),
    queueUpdate: z.string().min(1),
    busy: z.string().min(1),
    /** `{eta}` when no assignment rate is known yet. */
    etaUnknown: z.string().min(1),
    /** Told the buyer when an agent transfers the chat; `{role}` is the new role's name. */
    handover: z.string().min(1),
    /** Sent when the agent closes the chat; the buyer may answer with `rate`. */
    ratingInvite: z.string().min(1),
    /** The last line of a chat an agent closed. */
    goodbye: z.string().min(1),
    /** Said when a chat is closed because the buyer has gone quiet. */
    idleClose: z.string().min(1),
    /** Said after the greeting when the role is outside its business hours (`{hours}`: "09:00–22:00"); the line stays as a left message. */
    outsideHours: z.string().min(1),
  })
  .strict();

export const DEFAULT_BOT_TEXTS: z.infer<typeof botTextsSchema> = {
  greeting: '亲，欢迎光临{shop}！客服马上就来，您可以先说说您的问题哦～',
  queueUpdate: '亲，您前面还有{position}位，预计等待{eta}。',
  busy: '亲，现在咨询的顾客较多，您可以先留言，我们会尽快回复，您也可以先去逛逛哦～',
  etaUnknown: '片刻',
  handover: '亲，已为您转接{role}的同事，之前的聊天记录TA都能看到，您不用再重复说明哦～',
  ratingInvite: '亲，本次服务就到这里啦。请为我们的服务打个分（1-5分），您的评价是我们进步的动力～',
  goodbye: '感谢您光临{shop}！发货后可在“我的订单”里查看物流，签收时请当面检查包裹是否完好，有问题随时找我们哦～祝您购物愉快，再见！',
  idleClose: '亲，您已经有一段时间没有回复啦，本次会话先结束。如果还有问题，随时发消息给我们哦～',
  outsideHours: '亲，现在是非工作时间（客服工作时间{hours}），您的留言我们已经收到，客服上班后会第一时间回复您哦～',
};

export const faqEntrySchema = z
  .object({
    keywords: z.array(z.string().min(1)).min(1),
    answer: z.string().min(1),
    /** Whether a buyer whose first message this answers still queues for a human. */
    queue: z.boolean().default(true),
  })
  .strict();

export const campaignSchema = z
  .object({
    name: z.string().min(1),
    from: z.iso.datetime({ offset: true }),
    to: z.iso.datetime({ offset: true }),
    text: z.string().min(1),
    /** Roles whose buyers get it; absent = all. */
    roles: z.array(z.string()).optional(),
  })
  .strict();

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM');

/** Words a buyer uses to ask for a person (bot-first roles queue on them). */
export const DEFAULT_HUMAN_KEYWORDS = ['转人工', '人工客服', '人工', '真人', 'human', 'agent'];

export const botsSchema = z
  .object({
    texts: botTextsSchema.partial().transform((t) => ({ ...DEFAULT_BOT_TEXTS, ...t })).prefault({}),
    /** How roles are named to buyers (`{role}` in texts); a role without a name is named by its id. */
    roleNames: z
      .record(z.string(), z.string().min(1))
      .default({ 'pre-sale': '售前', 'order-edit': '订单修改', 'after-sale': '售后', bargaining: '优惠咨询' }),
    /** Per-role overrides of any text. */
    roles: z.record(z.string(), botTextsSchema.partial()).default({}),
    queueUpdates: z
      .object({
        /** How often each instance looks at its waiting buyers' places in line. */
        checkIntervalMs: z.number().int().min(20).default(2_000),
        /** A new position text no sooner than this after the last one. */
        minIntervalMs: z.number().int().min(0).default(30_000),
        /** …and only when the place moved by at least this much (or reached the front three). */
        minPositionChange: z.number().int().min(1).default(3),
      })
      .strict()
      .prefault({}),
    busy: z
      .object({
        /** Waiting longer than this gets the `busy` text, once. 0 = never. */
        afterMs: z.number().int().min(0).default(180_000),
      })
      .strict()
      .prefault({}),
    faq: z.array(faqEntrySchema).default([]),
    campaigns: z.array(campaignSchema).default([]),
    limits: z
      .object({
        /** Bot messages per session per rolling minute, replies included. */
        perMinute: z.number().int().min(1).default(4),
      })
      .strict()
      .prefault({}),
    /**
     * Per role: `human` (queue for an agent at once, the bot keeps company) or `bot-first`
     * (FAQ answers handle the buyer; the session queues, at its original arrival time, only
     * when the buyer asks for a person or writes something no FAQ entry answers).
     */
    mode: z.record(z.string(), z.enum(['human', 'bot-first'])).default({}),
    /** What asking for a person looks like (substrings; case and simplified/traditional do not matter). */
    humanKeywords: z.array(z.string().min(1).max(64)).max(200).default(DEFAULT_HUMAN_KEYWORDS),
    /**
     * Per role, the hours agents answer (shop time, `timezone`; `from` > `to` wraps midnight);
     * a role not named is always open. Outside them the bot says `outsideHours`, the session
     * waits as a left message and dispatch offers none of the role's sessions until it opens.
     */
    businessHours: z.record(z.string(), z.object({ from: hhmm, to: hhmm }).strict()).default({}),
    /** No proactive (unprompted) bot text in this window of shop time; null = none. */
    quietHours: z.object({ from: hhmm, to: hhmm }).strict().nullable().default({ from: '22:00', to: '08:00' }),
    /** The shop's IANA time zone, for quiet hours and business hours. */
    timezone: z
      .string()
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, 'unknown IANA time zone')
      .default('Asia/Shanghai'),
  })
  .strict();

export const moderationSchema = z
  .object({
    /** Checked on agent messages before they are stored. */
    lists: z
      .array(
        z
          .object({
            name: z.string().min(1),
            words: z.array(z.string().min(1)).min(1),
            /** `block`: the message is refused with `forbidden`; `mask`: the words are starred out. */
            policy: z.enum(['block', 'mask']),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

const botsShape = botsSchema.shape;

/**
 * A shop's `bots` override: only the fields it names. Built from the unwrapped field types,
 * not `botsSchema.partial()`: zod 4 still applies `.default()`/`.prefault()` inside
 * `.partial()`, so every unnamed field would come back as the schema default and, merged
 * over the global `bots`, silently replace the operator's global values.
 */
export const botsOverrideSchema = z
  .object({
    texts: botTextsSchema.partial().optional(),
    roleNames: botsShape.roleNames.unwrap().optional(),
    roles: botsShape.roles.unwrap().optional(),
    queueUpdates: botsShape.queueUpdates.unwrap().optional(),
    busy: botsShape.busy.unwrap().optional(),
    faq: botsShape.faq.unwrap().optional(),
    campaigns: botsShape.campaigns.unwrap().optional(),
    limits: botsShape.limits.unwrap().optional(),
    mode: botsShape.mode.unwrap().optional(),
    humanKeywords: botsShape.humanKeywords.unwrap().optional(),
    businessHours: botsShape.businessHours.unwrap().optional(),
    quietHours: botsShape.quietHours.unwrap().optional(),
    timezone: botsShape.timezone.unwrap().optional(),
  } satisfies Record<keyof typeof botsShape, z.ZodType>)
  .strict();

export const shopOverrideSchema = z
  .object({
    intent: intentSchema.optional(),
    /** The shop's name as buyers and agents see it (`{shop}` in bot texts); the global `shop.displayName` when unset. */
    displayName: z.string().min(1).max(64).optional(),
    defaultRole: z.string().optional(),
    bots: botsOverrideSchema.optional(),
    moderation: moderationSchema.optional(),
    context: contextSchema.optional(),
    /** This shop's own webhooks, besides the global ones. */
    webhooks: webhooksSchema.optional(),
  })
  .strict();

export type IntentConfig = z.infer<typeof intentSchema>;
export type BotsConfig = z.infer<typeof botsSchema>;
export type BotTexts = z.infer<typeof botTextsSchema>;
export type ModerationConfig = z.infer<typeof moderationSchema>;
export type ShopOverride = z.infer<typeof shopOverrideSchema>;
