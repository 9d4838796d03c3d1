import { z } from 'zod';
import { botsSchema, intentSchema, moderationSchema, shopOverrideSchema } from './bots-schema.ts';

const bucket = z
  .object({
    perSecond: z.number().min(0.1),
    burst: z.number().int().min(1),
  })
  .strict();

/**
 * Everything an operator can tune. Defaults live here, so `config/default.json` only
 * needs what differs and a missing field never means "undefined behaviour".
 */
export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        /** Largest accepted WebSocket text frame; larger ones get `too_large`. */
        maxFrameBytes: z.number().int().min(256).max(1_048_576).default(16_384),
        /** A client that earns this many errors within `errorWindowMs` is closed with 1008. */
        errorLimit: z.number().int().min(1).default(20),
        errorWindowMs: z.number().int().min(100).default(10_000),
        /**
         * Per-connection token buckets for inbound frames; frames over it get `rate_limited`.
         * Agents juggle many chats at once, so their bucket is larger.
         */
        rateLimit: z
          .object({
            buyer: bucket.prefault({ perSecond: 20, burst: 40 }),
            agent: bucket.prefault({ perSecond: 200, burst: 400 }),
            /** One buyer's lines (and resumes, ratings) across all its connections and instances. */
            perBuyer: bucket.prefault({ perSecond: 10, burst: 50 }),
            /** All buyers of one shop together, so one shop's flood cannot starve the others. */
            perShop: bucket.prefault({ perSecond: 1_000, burst: 2_000 }),
          })
          .strict()
          .prefault({}),
        /** How long SIGTERM waits for in-flight work before closing sockets anyway. */
        shutdownGraceMs: z.number().int().min(0).default(5_000),
        /** Live connections one buyer may hold at once, across all instances; more get `rate_limited`. */
        maxConnectionsPerBuyer: z.number().int().min(1).max(100).default(5),
        /**
         * Browser origins allowed to open WebSockets, e.g. `https://shop.example.com`; `*` = any.
         * Requests without an Origin header (non-browser clients) and same-origin pages are always allowed.
         */
        allowedOrigins: z.array(z.string().min(1)).default([]),
        /** How often each instance tells the others it is alive. */
        heartbeatMs: z.number().int().min(100).max(60_000).default(1_000),
        /** An instance silent this long is taken for dead: the others clean up its agents' and buyers' connections. */
        instanceTimeoutMs: z.number().int().min(500).max(600_000).default(5_000),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        url: z.string().url().optional(),
        clusterNodes: z.array(z.string().regex(/^[^:]+:\d+$/, 'expected host:port')).optional(),
        keyPrefix: z.string().min(1).max(32).regex(/^[A-Za-z0-9_.-]+$/).default('pd'),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({
        secret: z.string().min(16, 'must be at least 16 characters').optional(),
      })
      .strict()
      .prefault({}),
    routing: z
      .object({
        roles: z
          .array(z.string().min(1).max(64).regex(/^[a-z0-9-]+$/, 'lowercase letters, digits and dashes'))
          .min(1)
          .default(['pre-sale', 'order-edit', 'after-sale', 'bargaining']),
        /** Role a new session is queued in when the classifier has no opinion. */
        defaultRole: z.string().default('pre-sale'),
        offerTimeoutMs: z.number().int().min(1_000).max(300_000).default(15_000),
        /** An agent that drops keeps its sessions this long before they are re-queued. */
        agentGraceMs: z.number().int().min(0).max(3_600_000).default(30_000),
        /** Transcript events shown with an offer. */
        previewEvents: z.number().int().min(0).max(50).default(5),
        /**
         * How often each instance sweeps for due timers: expired offers and grace periods it
         * did not time itself, rating windows, idle sessions and missed replies.
         */
        sweepIntervalMs: z.number().int().min(20).max(60_000).default(1_000),
        /**
         * A transferred session queues at its original arrival time less this much, so it
         * goes ahead of sessions that arrived up to this much later.
         */
        transferBoostMs: z.number().int().min(0).default(120_000),
        /**
         * A buyer with VIP level v (token claim `vip`, 0..9) queues v times this much earlier
         * than its arrival, so it goes ahead of sessions that arrived up to that much earlier.
         */
        vipBoostMs: z.number().int().min(0).max(86_400_000).default(60_000),
        /**
         * Ops' priority per role (e.g. after-sale disputes): a session entering that role's
         * queue on its first message queues this much earlier, on top of any VIP boost.
         */
        priorityBoostMs: z.record(z.string(), z.number().int().min(0).max(86_400_000)).default({}),
        /**
         * Known agent: a buyer whose last session was assigned to agent X within `windowMs` is
         * offered to X first while X is ready for the role, waiting for X at most `holdMs`.
         * `windowMs` 0 = off.
         */
        sticky: z
          .object({ windowMs: z.number().int().min(0).max(31 * 86_400_000).default(259_200_000), holdMs: z.number().int().min(0).max(600_000).default(20_000) })
          .strict()
          .prefault({}),
        /**
         * A session waiting in the key role longer than `afterMs` may also be offered to ready
         * agents of the `to` roles (still queued in its own role; offers say `overflow: true`).
         */
        overflow: z
          .record(
            z.string(),
            z.object({ afterMs: z.number().int().min(0).max(86_400_000), to: z.array(z.string().min(1).max(64)).min(1).max(20) }).strict(),
          )
          .default({}),
        /** An agent should answer a waiting buyer within this long (the platforms' 5-minute reply rate). */
        replyWindowMs: z.number().int().min(1_000).default(300_000),
        /**
         * What a missed reply window does besides being counted: `alert` sends the agent
         * `reply_overdue`, `reoffer` takes the session away and queues it for another agent.
         */
        replyEscalation: z.enum(['none', 'alert', 'reoffer']).default('alert'),
      })
      .strict()
      .prefault({}),
    intent: intentSchema.prefault({}),
    bots: botsSchema.prefault({}),
    moderation: moderationSchema.prefault({}),
    workbench: z
      .object({
        /** Canned phrases the agent workbench offers, per role (sent in the agent `welcome`). */
        quickReplies: z.record(z.string(), z.array(z.string().min(1).max(2000)).max(50)).default({
          'pre-sale': ['亲，在的，请问有什么可以帮您？', '这款现货充足，今天下单48小时内发货。', '双11活动价已经是全年最低，还可以叠加店铺券哦。'],
          'order-edit': ['亲，请提供一下订单号，我来帮您修改。', '地址已经帮您改好了，请在订单详情里确认一下。', '订单还没有发货，可以帮您换规格。'],
          'after-sale': ['很抱歉给您带来不便，麻烦提供一下订单号和问题照片。', '退货申请已通过，请在7天内寄回。', '退款会在1-3个工作日内原路退回。'],
          bargaining: ['亲，这已经是活动最低价了哦。', '可以给您申请一张5元无门槛券。', '满两件再享9折优惠。'],
        }),
      })
      .strict()
      .prefault({}),
    /** Per-shop overrides, by shop id. */
    shops: z.record(z.string(), shopOverrideSchema).default({}),
    sessions: z
      .object({
        /** A closed session's transcript stays readable this long, then Redis expires it. */
        retentionMs: z.number().int().min(60_000).default(7 * 24 * 3_600_000),
        /** How long a blocked buyer stays blocked for the shop. */
        blockMs: z.number().int().min(60_000).default(30 * 24 * 3_600_000),
        /** After an agent closes a chat the buyer may rate it this long; 0 = no rating invite. */
        rateWindowMs: z.number().int().min(0).max(3_600_000).default(60_000),
        /** A chat whose buyer has said nothing this long is closed by the bot; 0 = never. Waiting in a queue does not count. */
        idleCloseMs: z.number().int().min(0).default(30 * 60_000),
        /** Transcript cap per session: past it buyer and agent lines get `too_large`, bot lines are dropped. */
        maxTranscriptEvents: z.number().int().min(10).max(100_000).default(2_000),
        maxTranscriptBytes: z.number().int().min(4_096).max(64 * 1_048_576).default(1_048_576),
        /** A session that waits this long without an agent is closed with reason `queue_timeout`; 0 = never. */
        maxQueuedMs: z.number().int().min(0).default(2 * 3_600_000),
        /** A queued session whose buyer has been offline (no live connection) this long is closed as `abandoned`; 0 = never. */
        abandonMs: z.number().int().min(0).default(600_000),
        /** An open session's Redis keys expire this long after its last event, even if no gateway is left to close it. */
        openTtlMs: z.number().int().min(60_000).default(24 * 3_600_000),
      })
      .strict()
      .prefault({}),
    plan: z
      .object({
        /** Stats for the staffing plan are counted per role in buckets this long (also a plan interval from recorded data). */
        bucketMs: z.number().int().min(60_000).max(86_400_000).default(900_000),
        /** A stats bucket is kept this long after it ends, then Redis expires it. */
        retentionMs: z.number().int().min(3_600_000).max(400 * 24 * 3_600_000).default(35 * 24 * 3_600_000),
        /** Default target of a plan: answered within this many seconds … */
        answerWithinSeconds: z.number().min(0).max(3_600).default(20),
        /** … for this share of arrivals … */
        serviceLevel: z.number().gt(0).lt(1).default(0.8),
        /** … with at most this share giving up. */
        maxAbandonment: z.number().min(0).max(1).default(0.05),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  // Runs even when other fields failed, so one PUT lists every problem; hence the defensive reads.
  .superRefine(
    (cfg, ctx) => {
      const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
      const roles = list<string>(cfg.routing?.roles);
      const rules = (v: unknown) => list<{ role?: unknown; patterns?: unknown }>(v).filter((r) => r && typeof r === 'object');
      const shops = cfg.shops && typeof cfg.shops === 'object' ? Object.entries(cfg.shops).filter(([, o]) => o && typeof o === 'object') : [];
      const roleKnown = (role: unknown, path: (string | number)[]) => {
        if (typeof role === 'string' && roles.length && !roles.includes(role)) ctx.addIssue({ code: 'custom', path, message: `unknown role "${role}"` });
      };
      if (typeof cfg.routing?.defaultRole === 'string' && roles.length && !roles.includes(cfg.routing.defaultRole)) {
        ctx.addIssue({ code: 'custom', path: ['routing', 'defaultRole'], message: `must be one of routing.roles (${roles.join(', ')})` });
      }
      rules(cfg.intent?.rules).forEach((r, i) => roleKnown(r.role, ['intent', 'rules', i, 'role']));
      for (const role of Object.keys(cfg.routing?.priorityBoostMs ?? {})) roleKnown(role, ['routing', 'priorityBoostMs', role]);
      for (const [role, o] of Object.entries(cfg.routing?.overflow ?? {})) {
        roleKnown(role, ['routing', 'overflow', role]);
        list<unknown>((o as { to?: unknown })?.to).forEach((to, i) => roleKnown(to, ['routing', 'overflow', role, 'to', i]));
      }
      for (const [shop, o] of shops) {
        rules(o.intent?.rules).forEach((r, i) => roleKnown(r.role, ['shops', shop, 'intent', 'rules', i, 'role']));
        if (o.defaultRole) roleKnown(o.defaultRole, ['shops', shop, 'defaultRole']);
      }
      const patterns = [
        ...rules(cfg.intent?.rules).flatMap((r, i) => list<unknown>(r.patterns).map((p, j) => [p, ['intent', 'rules', i, 'patterns', j]] as const)),
        ...shops.flatMap(([shop, o]) =>
          rules(o.intent?.rules).flatMap((r, i) => list<unknown>(r.patterns).map((p, j) => [p, ['shops', shop, 'intent', 'rules', i, 'patterns', j]] as const)),
        ),
      ];
      for (const [p, path] of patterns) {
        if (typeof p !== 'string') continue;
        try {
          new RegExp(p, 'iu');
        } catch (err) {
          ctx.addIssue({ code: 'custom', path: [...path], message: `invalid regular expression: ${(err as Error).message}` });
        }
      }
      if (new Set(roles).size !== roles.length) {
        ctx.addIssue({ code: 'custom', path: ['routing', 'roles'], message: 'roles must be unique' });
      }
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  );

export type Config = z.infer<typeof configSchema>;
