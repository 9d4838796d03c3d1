import type { Address } from '../types.ts';

/**
 * The Redis key layout, in one place. Every key of a shop starts with `<prefix>:{<shop>}:`
 * so one shop lives in one hash slot (Lua scripts are per shop, and Cluster needs that).
 * The Lua side (lua/_prelude.lua) derives the same names from this prefix.
 *
 *   s:<sid>       hash    session (state, buyer, role, agent, arrived, seq, x:<agent> exclusions…)
 *   t:<sid>       stream  transcript; entry id `<seq>-0`, fields f(rom) t(ext) ts a(gent) r(ole) k(ind)
 *   m:<sid>       hash    clientMsgId → seq, for idempotent resends
 *   bs:<buyer>    string  the buyer's open session
 *   blk:<buyer>   string  block marker (with expiry)
 *   q:<role>      zset    waiting sessions by arrival time
 *   av:<role>     zset    ready agents with free capacity, by load then idle time
 *   a:<agent>     hash    agent status, roles, capacity, load; a:<agent>:s/:o/:c sets of
 *                         sessions, offers and live connections
 *   agents        set     ids of every agent that connected (for the ops API)
 *   bc:<buyer>    set     the buyer's live connection ids (capped by buyerConnect.lua)
 *   bh:<buyer>    zset    the buyer's sessions by creation time (its history; the newest
 *                         BUYER_HISTORY_MAX, written by openSession.lua, living as long as
 *                         the longest-kept of them; entries of expired sessions dropped on read)
 *   rate:<role>   list    times of the role's last 50 assignments (newest first), for ETAs
 *   offers        zset    offered sessions by expiry
 *   grace         zset    offline agents by end of grace period
 *   closing       zset    sessions in their rating window, by its end
 *   idle          zset    `bot`/`assigned` sessions by the buyer's last message (or assignment)
 *   reply         zset    assigned sessions whose buyer awaits the agent, by when it began
 *   qt            zset    sessions waiting without an agent, by since when (sessions.maxQueuedMs)
 *   rl, rl:<buyer> hash   token buckets of the shop's and the buyer's lines (rate limits)
 *   rlu:<kind:id> hash    token bucket of a sender's uploads (uploads.perBuyer)
 *   ch:b:<buyer>, ch:a:<agent>   pub/sub channels
 *   ps:<bucketMs>:<start>  hash  staffing-plan stats of one time bucket, `<role>|<counter>` →
 *                         count (src/store/plan-stats.ts), expiring after the retention
 *   pa:<sid>      string  when the session's agent took it (start of its handle time)
 *   rc:<role>     hash    routing outcomes per role (overflowed, sticky, abandoned, deflected)
 *   rs:<bucketMs>:<start>  hash  the ops dashboard's recent stats of one short bucket:
 *                         `<role>|<counter or gauge>`, `<role>|w<bin>` (wait histogram), `_sampled`
 *                         (src/store/recent-stats.ts), expiring dashboard.windowMs after it ends
 *   wh:sub        hash    webhook event types the shop has subscribers for (type → 1), kept
 *                         from the config by src/store/redis/webhook-outbox.ts; read by emitEvent
 *   wh:out        stream  the webhook outbox: events written in the step of their change,
 *                         read by the consumer group `d` all instances share
 *   wh:retry      zset    delivery jobs by when they are next due (or their lease ends)
 *   wh:job        hash    delivery job id → the job (JSON: event, url, attempts)
 *   wh:dead       stream  parked deliveries (field `job`), listed and replayed by ops
 *
 * An agent or buyer id inside a key name goes through idPart (`:` and `%` percent-encoded).
 *
 * Outside any shop: `<prefix>:shops` (set of shop ids), `<prefix>:active` (zset: the index of
 * active shops, by next due sweep), `<prefix>:whdue` (zset: shops with webhook work, by when due), `<prefix>:config` (hash: the shared
 * config document and its version; also the channel announcing a new version),
 * `<prefix>:instances` (zset: gateway instances by last heartbeat) and
 * `<prefix>:instance:<id>` (set: that instance's live connections, as JSON ConnRefs).
 */
export function shopPrefix(prefix: string, shop: string): string {
  // encodeURIComponent escapes `{` and `}`, so a shop id can never break the hash tag.
  return `${prefix}:{${encodeURIComponent(shop)}}:`;
}

export function shopsKey(prefix: string): string {
  return `${prefix}:shops`;
}

/** zset: the index of active shops, shop → when it is next due for a sweep (src/store/active.ts). */
export function activeKey(prefix: string): string {
  return `${prefix}:active`;
}

/** string: a random id set once per data set; when it is missing or new, the data was lost (a Redis restart). */
export function epochKey(prefix: string): string {
  return `${prefix}:epoch`;
}

/** zset: shops with webhook work pending (outbox, retries), by when they are next due; as `active`. */
export function webhookIndexKey(prefix: string): string {
  return `${prefix}:whdue`;
}

export const webhookSubKey = (p: string) => `${p}wh:sub`;
export const webhookDeadKey = (p: string) => `${p}wh:dead`;

export function configKey(prefix: string): string {
  return `${prefix}:config`;
}

export const instancesKey = (prefix: string) => `${prefix}:instances`;
export const instanceKey = (prefix: string, id: string) => `${prefix}:instance:${id}`;
/** One store connection's readiness probe (a write that expires). */
export const readyKey = (prefix: string, id: string) => `${prefix}:ready:${id}`;

/**
 * An id as part of a key name: ':' and '%' percent-encoded (as the prelude's `enc`), so an id
 * like `x:o` never names another key (agent `x`'s offers set). Other ids are unchanged.
 */
export function idPart(id: string): string {
  return id.replace(/[%:]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export const sessionKey = (p: string, sid: string) => `${p}s:${sid}`;
export const transcriptKey = (p: string, sid: string) => `${p}t:${sid}`;
export const queueKey = (p: string, role: string) => `${p}q:${role}`;
export const agentKey = (p: string, aid: string) => `${p}a:${idPart(aid)}`;
export const rateKey = (p: string, role: string) => `${p}rate:${role}`;
export const offersKey = (p: string) => `${p}offers`;
export const graceKey = (p: string) => `${p}grace`;
export const agentsKey = (p: string) => `${p}agents`;
export const buyerConnsKey = (p: string, buyer: string) => `${p}bc:${idPart(buyer)}`;
export const buyerHistoryKey = (p: string, buyer: string) => `${p}bh:${idPart(buyer)}`;
export const closingKey = (p: string) => `${p}closing`;
export const idleKey = (p: string) => `${p}idle`;
export const replyKey = (p: string) => `${p}reply`;
/** Per role: routing outcomes counted since the data began (overflowed, sticky, abandoned, deflected), for the admin queue view. */
export const routeStatsKey = (p: string, role: string) => `${p}rc:${role}`;
export const planBucketKey = (p: string, bucketMs: number, start: number) => `${p}ps:${bucketMs}:${start}`;
/** The ops dashboard's recent stats of one short bucket (recentRecord.lua, recentSample.lua). */
export const recentBucketKey = (p: string, bucketMs: number, start: number) => `${p}rs:${bucketMs}:${start}`;

export function channelOf(prefix: string, address: Address): string {
  return `${shopPrefix(prefix, address.shop)}ch:${address.kind === 'buyer' ? 'b' : 'a'}:${address.id}`;
}

/** Inverse of channelOf's shop part, for routing an incoming pub/sub message. */
export function shopFromPrefix(prefix: string, key: string): string | null {
  const start = prefix.length + 2;
  const end = key.indexOf('}:', start);
  if (!key.startsWith(`${prefix}:{`) || end < 0) return null;
  return decodeURIComponent(key.slice(start, end));
}
