import { z } from 'zod';
import { contextSchema } from './context-schema.ts';
import { webhookDeliverySchema, webhooksSchema } from './webhooks-schema.ts';
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
        /**
         * An HTTP request (headers and body) or a WebSocket upgrade not complete this long after
         * it started is closed; a connection that sends nothing at all is closed after it too.
         */
        requestTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
        /**
         * Serve /metrics on a listener of its own at `metricsHost:metricsPort` (0 = any free port)
         * instead of the main port, e.g. an address only the monitoring network reaches.
         */
        metricsPort: z.number().int().min(0).max(65535).optional(),
        /** Listen address of the metrics listener; default: `server.host`. */
        metricsHost: z.string().min(1).optional(),
        /**
         * Outbound bytes a WebSocket may have waiting for its peer to read them; past it the
         * socket is terminated (a disconnect), so a peer that stops reading cannot grow memory.
         */
        maxBufferedBytes: z.number().int().min(65_536).max(256 * 1_048_576).default(4 * 1_048_576),
        /** Largest HTTP request body (the admin API's JSON); larger ones get 413 `too_large`. */
        maxBodyBytes: z.number().int().min(1_024).max(64 * 1_048_576).default(1_048_576),
        /** Largest request line + headers (a query string included); larger ones get 431. */
        maxHeaderBytes: z.number().int().min(4_096).max(1_048_576).default(16_384),
        /**
         * An idle keep-alive HTTP connection is closed after this long. Longer than the 60 s idle
         * timeout of common load balancers, so the balancer closes first and never sends a
         * request into a connection the gateway is closing (a 502 for the client).
         */
        keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(72_000),
        /**
         * Connections one source address may hold open before they are upgraded to an
         * authenticated WebSocket (slow or idle handshakes, plain HTTP); more are closed at once.
         * Behind a proxy every client shares the proxy's address: raise it there. 0 = no cap.
         */
        maxUnauthenticatedPerAddress: z.number().int().min(0).default(256),
        /**
         * The server pings every WebSocket this often; one that has not answered by the next
         * ping is terminated and counts as a disconnect (an agent's grace period starts).
         */
        pingIntervalMs: z.number().int().min(50).max(300_000).default(15_000),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        url: z.string().url().optional(),
        clusterNodes: z.array(z.string().regex(/^[^:]+:\d+$/, 'expected host:port')).optional(),
        keyPrefix: z.string().min(1).max(32).regex(/^[A-Za-z0-9_.-]+$/).default('pd'),
        /** A Redis command not answered this long fails with `unavailable` (a frozen Redis answers nothing). */
        commandTimeoutMs: z.number().int().min(50).max(60_000).default(5_000),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({
        secret: z.string().min(16, 'must be at least 16 characters').optional(),
        /**
         * When set, GET /metrics needs `Authorization: Bearer <metricsToken>` (or a platform
         * admin token); unset, it is open like /healthz.
         */
        metricsToken: z.string().min(16, 'must be at least 16 characters').optional(),
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
    shop: z
      .object({
        /** How a shop is named to buyers and agents when `shops.<id>.displayName` does not name it; a shop id is never shown. */
        displayName: z.string().min(1).max(64).default('本店'),
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
        /** An open session's Redis keys expire this long after its last event (up to min(this / 10, 60 s) later), even if no gateway is left to close it. */
        openTtlMs: z.number().int().min(60_000).default(24 * 3_600_000),
        /**
         * The session a connecting buyer is greeted into expires this long after it was opened
         * if the buyer never writes in it (a connection that only connects costs little); the
         * first line makes it an open session. Read at start-up.
         */
        unusedTtlMs: z.number().int().min(60_000).max(24 * 3_600_000).default(10 * 60_000),
      })
      .strict()
      .prefault({}),
    /** The shop's context hook; unset = none (a shop may have its own under `shops.<id>.context`). */
    context: contextSchema.optional(),
    /** Event webhooks every shop has (a shop adds its own under `shops.<id>.webhooks`). */
    webhooks: webhooksSchema.default([]),
    webhookDelivery: webhookDeliverySchema.prefault({}),
    uploads: z
      .object({
        /** Largest accepted upload; larger ones get 413. */
        maxBytes: z.number().int().min(1_024).max(100 * 1_048_576).default(5 * 1_048_576),
        /** Uploads per sender (buyer or agent), across every instance; over it: 429. */
        perBuyer: bucket.prefault({ perSecond: 0.5, burst: 10 }),
        /** `local`: the directory `uploads.dir` (one instance); `s3`: an S3-compatible bucket (several instances). */
        storage: z.enum(['local', 's3']).default('local'),
        /** Where the local store keeps files, relative to the working directory unless absolute. */
        dir: z.string().min(1).default('data/uploads'),
        /** How often the local store deletes files older than the session retention; at most `sweepLimit` per pass. */
        sweepIntervalMs: z.number().int().min(1_000).default(600_000),
        sweepLimit: z.number().int().min(1).max(100_000).default(1_000),
        s3: z
          .object({
            /** An S3-compatible endpoint (MinIO, R2, …); unset = AWS for `region`. */
            endpoint: z.string().url().optional(),
            bucket: z.string().min(1).default('peakdesk-uploads'),
            region: z.string().min(1).default('us-east-1'),
            /** Unset = the AWS SDK's default credential chain (environment, instance role…). */
            accessKeyId: z.string().min(1).optional(),
            secretAccessKey: z.string().min(1).optional(),
            /** Object keys are `<prefix><shop>/<id>`. */
            prefix: z.string().max(200).default('uploads/'),
            /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers need. */
            forcePathStyle: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
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
    dashboard: z
      .object({
        /** The ops dashboard's recent stats are counted per shop and role in buckets this long. */
        bucketMs: z.number().int().min(1_000).max(60_000).default(10_000),
        /** How far back the dashboard reads; buckets are kept this long after they end. */
        windowMs: z.number().int().min(60_000).max(6 * 3_600_000).default(30 * 60_000),
        alerts: z
          .object({
            /** A role's oldest waiting buyer has waited at least this long: alert. */
            oldestWaitSeconds: z.number().min(1).max(86_400).default(120),
            /** Of the buyers who left a role's queue (answered or gone) in the last `windowSeconds`, at least this share gave up: alert … */
            abandonment: z.number().gt(0).max(1).default(0.2),
            /** … once at least `minOutcomes` left it (a single early leaver is no alarm). */
            minOutcomes: z.number().int().min(1).max(10_000).default(5),
            windowSeconds: z.number().int().min(10).max(3_600).default(300),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .refine((d) => d.windowMs / d.bucketMs <= 2_160, { message: 'at most 2160 buckets of bucketMs per windowMs', path: ['windowMs'] })
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
      for (const role of Object.keys(cfg.bots?.mode ?? {})) roleKnown(role, ['bots', 'mode', role]);
      for (const role of Object.keys(cfg.bots?.businessHours ?? {})) roleKnown(role, ['bots', 'businessHours', role]);
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
