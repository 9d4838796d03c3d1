import { z } from 'zod';
import { SESSION_STATES } from '../lifecycle.ts';
import type { ScriptName } from './scripts.ts';

/**
 * The typed boundary of every Lua script (src/store/redis/lua): one JSON object in (the
 * script's ARGV[1], read with cjson.decode) and one out (cjson.encode), named after the
 * store method that calls it. Arguments are typed here; replies are checked with zod, so a
 * script and its caller cannot drift apart silently. Field names are the ones each script's
 * header lists.
 */

/** cjson encodes an empty Lua table as `{}`: a list field may come back as an empty object. */
const list = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0 ? [] : v), z.array(item));

const empty = z.object({});
const requeued = list(z.object({ sessionId: z.string(), buyerId: z.string(), role: z.string() }));
const state = z.enum(SESSION_STATES);

/** Buyer line buckets (see the prelude's limitBuyer); absent: not limited. */
export interface LimitsArg {
  buyerRate: number;
  buyerBurst: number;
  shopRate: number;
  shopBurst: number;
}

export interface ScriptArgs {
  openSession: { buyerId: string; newSessionId: string; now: number; idleTtlMs: number; name: string; vip: number; historyMax: number };
  appendEvent: {
    sessionId: string;
    from: 'buyer' | 'agent' | 'bot';
    actorId: string;
    clientMsgId: string;
    text: string;
    ts: number;
    role: string;
    enqueue?: boolean;
    reclassify?: boolean;
    botFirst?: boolean;
    leftMessage?: boolean;
    botPerMinute?: number;
    lifeMs?: number;
    maxEvents?: number;
    maxBytes?: number;
    limits?: LimitsArg;
    vipBoostMs?: number;
    boostMs?: number;
    stickyHoldMs?: number;
    extra?: string;
  };
  rate: { sessionId: string; buyerId: string; score: number; comment: string; now: number };
  agentConnect: { agentId: string; connId: string; now: number; allowedRoles?: readonly string[] };
  agentDisconnect: { agentId: string; connId: string; now: number; graceMs: number };
  agentStatus: { agentId: string; status: 'ready' | 'away'; roles: readonly string[]; capacity: number; now: number };
  accept: { sessionId: string; agentId: string; now: number; stickyWindowMs: number };
  releaseOffer: { sessionId: string; agentId: string; now: number; excludeMs: number };
  transfer: { sessionId: string; agentId: string; toRole: string; note: string; now: number; excludeMs: number; boostMs: number; line: string; force: boolean };
  close: {
    sessionId: string;
    mode: 'close' | 'block' | 'end';
    agentId: string;
    reason: string;
    now: number;
    retentionMs: number;
    blockMs?: number;
    rateWindowMs?: number;
    line?: string;
    lineKind?: string;
    goodbye?: string;
    idleBefore?: number;
    queuedBefore?: number;
    offlineBefore?: number;
  };
  finish: { sessionId: string; now: number; retentionMs: number; goodbye: string; onlyDue: boolean };
  replyMiss: { sessionId: string; now: number; cutoff: number; escalate: string; excludeMs: number };
  expireGrace: { agentId: string; now: number };
  dispatch: { role: string; now: number; offerTimeoutMs: number; max: number; overflowFrom: { role: string; afterMs: number }[] };
  buyerConnect: { buyerId: string; connId: string; max: number; now: number };
  buyerDisconnect: { buyerId: string; connId: string; now: number };
  planRecord: {
    bucketStart: number;
    bucketMs: number;
    expireAtMs: number;
    role: string;
    now: number;
    assignedSid: string;
    agentId: string;
    handledSid: string;
    markTtlMs: number;
    increments: Record<string, number>;
  };
  limitBuyer: { buyerId: string; now: number; limits: LimitsArg };
  sweepShop: {
    now: number;
    silentSince: number;
    replyCutoff: number;
    queuedBefore: number;
    idleCloseMs: number;
    replyWindowMs: number;
    maxQueuedMs: number;
    batch: number;
    roles: readonly string[];
    abandonMs: number;
  };
  reschedule: { shop: string; mark: number; nextDue?: number };
  setBuyer: { sessionId: string; json: string; vipBoostMs: number };
  limitUpload: { sender: string; now: number; rate: number; burst: number };
  whRead: { consumer: string; minIdleMs: number; count: number; now: number; leaseMs: number };
  whSettle: { entryIds: readonly string[]; ops: readonly { job: string; op: string; at?: number; body?: string }[]; deadMax: number; replayedId: string };
  recentRecord: { bucket: number; bucketMs: number; expireAt: number; role: string; add: Record<string, number>; max: Record<string, number> };
  recentSample: { bucket: number; bucketMs: number; expireAt: number; now: number; roles: readonly string[] };
}

/** Each script's reply; `.nullable()` where its header says it answers false. */
export const REPLIES = {
  openSession: z.object({ sessionId: z.string(), lastSeq: z.number(), created: z.boolean() }),
  appendEvent: z.object({
    seq: z.number(),
    duplicate: z.boolean(),
    enqueued: z.boolean(),
    role: z.string().optional(),
    position: z.number(),
    movedFrom: z.string(),
    suppressed: z.string(),
    firstResponseMs: z.number(),
    state,
    replyMs: z.number(),
  }),
  rate: empty,
  agentConnect: z.object({
    status: z.enum(['ready', 'away', 'offline']),
    roles: z.string(),
    capacity: z.number(),
    load: z.number(),
    sessions: list(z.string()),
    offers: list(z.string()),
    ratingSum: z.number(),
    ratingCount: z.number(),
    replyMisses: z.number(),
  }),
  agentDisconnect: z.object({ offline: z.boolean(), graceUntil: z.number(), requeued }),
  agentStatus: empty,
  accept: z.object({ role: z.string(), note: z.string(), alreadyAssigned: z.boolean(), overflowedTo: z.string() }),
  releaseOffer: z.object({ sessionId: z.string(), buyerId: z.string(), role: z.string(), agentId: z.string() }).nullable(),
  transfer: z.object({ fromRole: z.string(), buyerId: z.string(), position: z.number(), previousAgentId: z.string() }),
  close: z.object({ buyerId: z.string(), agentId: z.string(), state: z.enum(['closing', 'closed']), role: z.string() }).nullable(),
  finish: z.object({ buyerId: z.string(), reason: z.string() }).nullable(),
  replyMiss: z.object({ agentId: z.string(), buyerId: z.string(), role: z.string(), waitingSince: z.number(), requeued: z.boolean() }).nullable(),
  expireGrace: z.object({ requeued }),
  dispatch: z.object({
    offers: list(
      z.object({ sessionId: z.string(), agentId: z.string(), expiresAt: z.number(), role: z.string(), overflow: z.boolean(), sticky: z.union([z.literal(0), z.literal(1), z.literal(2)]) }),
    ),
  }),
  buyerConnect: empty,
  buyerDisconnect: z.object({ offline: z.boolean() }),
  planRecord: empty,
  limitBuyer: empty,
  sweepShop: z.object({
    offers: list(z.string()),
    grace: list(z.string()),
    closing: list(z.string()),
    idle: list(z.string()),
    replies: list(z.string()),
    queueExpired: list(z.string()),
    abandoned: list(z.string()),
    queued: z.number(),
    nextDue: z.number(),
  }),
  reschedule: z.object({ moved: z.boolean() }),
  setBuyer: empty,
  limitUpload: empty,
  whRead: z.object({
    entries: list(z.object({ id: z.string(), type: z.string(), sessionId: z.string(), ts: z.number(), data: z.string() })),
    retries: list(z.object({ job: z.string(), body: z.string() })),
    backlog: z.number(),
    retryHead: z.number(),
  }),
  whSettle: z.object({ found: z.boolean() }),
  recentRecord: empty,
  recentSample: z.object({ sampled: z.boolean() }),
} satisfies Record<ScriptName, z.ZodType>;

export type ScriptReply<N extends ScriptName> = z.infer<(typeof REPLIES)[N]>;

/** JSON.stringify's escape of a lone surrogate, which Redis' cjson refuses to decode. */
const LONE_SURROGATE_ESCAPE = /\\ud[89a-f]/i;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const wellFormed = (_key: string, v: unknown) => (typeof v === 'string' ? v.replace(LONE_SURROGATE, '\ufffd') : v);

/**
 * The argument object as the script's one ARGV. A client's text may hold a lone surrogate
 * (JSON `"\ud800"` parses to one): sent as positional arguments it became U+FFFD in UTF-8;
 * JSON.stringify would write it as an escape Redis' cjson rejects, so it becomes U+FFFD here too.
 */
export function encodeArgs<N extends ScriptName>(_name: N, args: ScriptArgs[N]): string {
  const json = JSON.stringify(args);
  return LONE_SURROGATE_ESCAPE.test(json) ? JSON.stringify(args, wellFormed) : json;
}

/** A script's raw reply (JSON text, or null for Lua false) checked against its schema. */
export function decodeReply<N extends ScriptName>(name: N, raw: unknown): ScriptReply<N> {
  const value = raw === null ? null : JSON.parse(String(raw));
  return REPLIES[name].parse(value) as ScriptReply<N>;
}
