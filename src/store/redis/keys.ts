import type { Address } from '../types.ts';

/**
 * The Redis key layout, in one place. Every key of a shop starts with `<prefix>:{<shop>}:`
 * so one shop lives in one hash slot (Lua scripts are per shop, and Cluster needs that).
 * The Lua side gets the same names as the key table K rendered from SHOP_KEYS (keysLua).
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
 *   rb, rb:<buyer> string token buckets of the shop's and the buyer's lines (rate limits),
 *                         "<tokens> <at ms>" (as hashes they were named rl, rl:<buyer>)
 *   rbu:<kind:id> string  token bucket of a sender's uploads (uploads.perBuyer; was rlu:, a hash)
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

export const webhookSubKey = (p: string) => shopKey(p, 'webhookSubscribed');
export const webhookDeadKey = (p: string) => shopKey(p, 'webhookDead');

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

/**
 * Every key (and channel) of a shop, after its prefix: `part`, then the id (percent-encoded by
 * idPart when `enc`), then `suffix`. The TypeScript key functions below and the Lua scripts'
 * key table K (rendered into their prelude by keysLua) both come from this one table, so no
 * key name is typed a second time in Lua.
 */
export const SHOP_KEYS = {
  session: { part: 's:' },
  transcript: { part: 't:' },
  msgIds: { part: 'm:' },
  queue: { part: 'q:' },
  avail: { part: 'av:' },
  agent: { part: 'a:', enc: true },
  agentSessions: { part: 'a:', enc: true, suffix: ':s' },
  agentOffers: { part: 'a:', enc: true, suffix: ':o' },
  agentConns: { part: 'a:', enc: true, suffix: ':c' },
  agents: { part: 'agents', fixed: true },
  rate: { part: 'rate:' },
  buyerSession: { part: 'bs:', enc: true },
  block: { part: 'blk:', enc: true },
  buyerConns: { part: 'bc:', enc: true },
  lastAgent: { part: 'la:', enc: true },
  buyerBucket: { part: 'rb:', enc: true },
  shopBucket: { part: 'rb', fixed: true },
  offers: { part: 'offers', fixed: true },
  grace: { part: 'grace', fixed: true },
  closing: { part: 'closing', fixed: true },
  idle: { part: 'idle', fixed: true },
  reply: { part: 'reply', fixed: true },
  queuedSince: { part: 'qt', fixed: true },
  abandon: { part: 'ab', fixed: true },
  planBucket: { part: 'ps:' },
  pickedAt: { part: 'pa:' },
  buyerChannel: { part: 'ch:b:' },
  agentChannel: { part: 'ch:a:' },
  buyerHistory: { part: 'bh:', enc: true },
  routeStats: { part: 'rc:' },
  recentBucket: { part: 'rs:' },
  uploadBucket: { part: 'rbu:', enc: true },
  webhookSubscribed: { part: 'wh:sub', fixed: true },
  webhookOutbox: { part: 'wh:out', fixed: true },
  webhookRetries: { part: 'wh:retry', fixed: true },
  webhookJobs: { part: 'wh:job', fixed: true },
  webhookDead: { part: 'wh:dead', fixed: true },
} as const satisfies Record<string, { part: string; enc?: boolean; suffix?: string; fixed?: boolean }>;
export type ShopKey = keyof typeof SHOP_KEYS;

/** A shop key by its SHOP_KEYS name; `id` is left out for the fixed ones. */
export function shopKey(p: string, name: ShopKey, id = ''): string {
  const k: { part: string; enc?: boolean; suffix?: string } = SHOP_KEYS[name];
  return `${p}${k.part}${k.enc ? idPart(id) : id}${k.suffix ?? ''}`;
}

/**
 * SHOP_KEYS as Lua, for the scripts' prelude: `K.session(sid)`, `K.agentOffers(aid)`,
 * `K.offers()`, each from P (the shop prefix, KEYS[1]); `enc` is idPart.
 */
export function keysLua(): string {
  const fns = Object.entries(SHOP_KEYS).map(([name, k]: [string, { part: string; enc?: boolean; suffix?: string; fixed?: boolean }]) => {
    if (k.fixed) return `  ${name} = function() return P .. '${k.part}' end,`;
    const id = k.enc ? 'enc(id)' : 'id';
    return `  ${name} = function(id) return P .. '${k.part}' .. ${id}${k.suffix ? ` .. '${k.suffix}'` : ''} end,`;
  });
  return [
    `-- Key names, rendered from SHOP_KEYS in src/store/redis/keys.ts.`,
    // Most ids have neither character: a find is a quarter of what gsub costs on fengari.
    `local function enc(id)`,
    `  if not string.find(id, '[%%:]') then return id end`,
    `  return (string.gsub(id, '[%%:]', function(c) return string.format('%%%02X', string.byte(c)) end))`,
    `end`,
    `local K = {`,
    ...fns,
    `}`,
    '',
  ].join('\n');
}

/**
 * The scripts' `K.<name>(id)` calls written out as the concatenation they stand for
 * (`(P .. 's:' .. (sid))`), when scripts.ts loads them: a Lua function call costs a few
 * microseconds on the embedded VM, and a script builds a dozen keys. Same names, same table;
 * `K[name]()` (a computed name) still calls the table.
 */
export function inlineKeyCalls(lua: string): string {
  const call = /\bK\.([A-Za-z]+)\(/g;
  let out = '';
  let copied = 0;
  for (let m = call.exec(lua); m; m = call.exec(lua)) {
    const k: { part: string; enc?: boolean; suffix?: string; fixed?: boolean } | undefined = (SHOP_KEYS as Record<string, { part: string }>)[m[1]!];
    if (!k) continue;
    const open = m.index + m[0].length;
    const close = closingParen(lua, open);
    if (close < 0) continue;
    const arg = lua.slice(open, close).trim();
    const id = k.fixed ? '' : ` .. ${k.enc ? `enc(${arg})` : `(${arg})`}`;
    out += `${lua.slice(copied, m.index)}(P .. '${k.part}'${id}${k.suffix ? ` .. '${k.suffix}'` : ''})`;
    copied = close + 1;
    call.lastIndex = close + 1;
  }
  return out + lua.slice(copied);
}

/** The index of the `)` closing the one opened just before `from`, skipping quoted strings; -1 when none. */
function closingParen(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === "'" || c === '"') {
      for (i++; i < s.length && s[i] !== c; i++) if (s[i] === '\\') i++;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

export const sessionKey = (p: string, sid: string) => shopKey(p, 'session', sid);
export const transcriptKey = (p: string, sid: string) => shopKey(p, 'transcript', sid);
export const queueKey = (p: string, role: string) => shopKey(p, 'queue', role);
export const agentKey = (p: string, aid: string) => shopKey(p, 'agent', aid);
export const rateKey = (p: string, role: string) => shopKey(p, 'rate', role);
export const offersKey = (p: string) => shopKey(p, 'offers');
export const graceKey = (p: string) => shopKey(p, 'grace');
export const agentsKey = (p: string) => shopKey(p, 'agents');
export const closingKey = (p: string) => shopKey(p, 'closing');
export const idleKey = (p: string) => shopKey(p, 'idle');
export const replyKey = (p: string) => shopKey(p, 'reply');
export const buyerHistoryKey = (p: string, buyer: string) => shopKey(p, 'buyerHistory', buyer);
/** Per role: routing outcomes counted since the data began (overflowed, sticky, abandoned, deflected), for the admin queue view. */
export const routeStatsKey = (p: string, role: string) => shopKey(p, 'routeStats', role);
export const planBucketKey = (p: string, bucketMs: number, start: number) => shopKey(p, 'planBucket', `${bucketMs}:${start}`);
/** The ops dashboard's recent stats of one short bucket (recentRecord.lua, recentSample.lua). */
export const recentBucketKey = (p: string, bucketMs: number, start: number) => shopKey(p, 'recentBucket', `${bucketMs}:${start}`);

export function channelOf(prefix: string, address: Address): string {
  return shopKey(shopPrefix(prefix, address.shop), address.kind === 'buyer' ? 'buyerChannel' : 'agentChannel', address.id);
}

/** Inverse of channelOf's shop part, for routing an incoming pub/sub message. */
export function shopFromPrefix(prefix: string, key: string): string | null {
  const start = prefix.length + 2;
  const end = key.indexOf('}:', start);
  if (!key.startsWith(`${prefix}:{`) || end < 0) return null;
  return decodeURIComponent(key.slice(start, end));
}
