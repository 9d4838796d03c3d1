import { randomUUID } from 'node:crypto';
import { Redis, Cluster } from 'ioredis';
import { PeakError } from '../../protocol/errors.ts';
import type { BuyerContext, EventFrom, EventKind } from '../../protocol/frames.ts';
import type {
  AgentStatus,
  AgentView,
  AgentPostResult,
  BotPostResult,
  Bus,
  Closed,
  ConnRef,
  Escalation,
  Handover,
  QueueStats,
  RouteCount,
  SharedConfig,
  Transferred,
  TransferOptions,
  CloseOptions,
  BuyerMessage,
  BuyerIdentity,
  OverflowSource,
  BuyerPostResult,
  Offer,
  PostResult,
  PlanBucket,
  PlanRecord,
  PlanStatsOptions,
  Requeued,
  SessionBounds,
  BuyerLimits,
  DueShop,
  ShopWork,
  SweepOptions,
  SessionState,
  SessionView,
  Store,
  StoredEvent,
  MessageExtras,
} from '../types.ts';
import { ROUTE_COUNTS } from '../types.ts';
import { ACTIVE_HOLD_MS, MARK_EVERY_MS, MAX_DEFER_MS } from '../active.ts';
import { activeKey, epochKey, agentsKey, buyerHistoryKey, instanceKey, instancesKey, closingKey, configKey, graceKey, idleKey, replyKey, offersKey, planBucketKey, queueKey, rateKey, recentBucketKey, routeStatsKey, sessionKey, shopKey, shopPrefix, shopsKey, transcriptKey, agentKey, readyKey } from './keys.ts';
import { rateOf } from '../rate.ts';
import { ASSIGNED_MARK_TTL_MS, bucketExpiresAt, bucketRows, bucketStartOf, bucketStarts, increments } from '../plan-stats.ts';
import { recentRows, recordFields, type RecentBucket, type RecentOptions, type RecentRecord } from '../recent-stats.ts';
import { defineScripts, OFFLINE_SHIFT, type ScriptClient, type ScriptName } from './scripts.ts';
import { decodeReply, encodeArgs, type LimitsArg, type ScriptArgs, type ScriptReply } from './script-io.ts';
import { translate } from './errors.ts';
import { RedisBus } from './bus.ts';
import { WebhookOutbox } from './webhook-outbox.ts';
import { IndexMarker } from './index-marker.ts';

export interface RedisStoreOptions {
  url?: string;
  clusterNodes?: string[];
  keyPrefix: string;
  /** A session nobody wrote in yet is forgotten after this long. */
  idleSessionTtlMs?: number;
  /** See src/store/active.ts; shorter in tests. */
  activeHoldMs?: number;
  /**
   * A command not answered this long fails (`unavailable`) instead of waiting: a frozen Redis
   * (stopped process, a stuck script) keeps the connection open and answers nothing.
   */
  commandTimeoutMs?: number;
  /** Connection trouble is reported here (at most once a second per connection) instead of stderr. */
  onConnectionError?: (err: Error, connection: string) => void;
}

type Client = Redis | Cluster;

export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;


/** The readiness probe's key lives this long: no trace of an instance stays behind for long. */
const PROBE_TTL_MS = 10_000;

/** Due timers handled per sweep and shop; the rest wait for the next sweep. */
const DUE_BATCH = 500;
/** A buyer's history index keeps its newest this many sessions per shop (bh:<buyer>). */
export const BUYER_HISTORY_MAX = 200;

function connect(opts: RedisStoreOptions, role: string): Client {
  const client = open(opts, role);
  let reportedAt = 0;
  client.on('error', (err: Error) => {
    const now = Date.now();
    if (now - reportedAt < 1_000) return;
    reportedAt = now;
    opts.onConnectionError?.(err, role);
  });
  return client;
}

function open(opts: RedisStoreOptions, role: string): Client {
  // The subscriber's connection carries no commands to time out (and SUBSCRIBE has no reply to wait for).
  const timeout = role === 'sub' ? {} : { commandTimeout: opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS };
  const common = { connectionName: `peakdesk-${role}`, maxRetriesPerRequest: 2, enableAutoPipelining: true, ...timeout };
  if (opts.clusterNodes?.length) {
    const nodes = opts.clusterNodes.map((n) => {
      const [host, port] = n.split(':');
      return { host: host!, port: Number(port) };
    });
    // The subscriber listens per shard (SSUBSCRIBE), where each shop's channels live.
    return new Cluster(nodes, { redisOptions: common, enableAutoPipelining: true, shardedSubscribers: role === 'sub' });
  }
  return new Redis(opts.url ?? 'redis://127.0.0.1:6379', common);
}

function boundArgs(b: SessionBounds | undefined): { lifeMs?: number; maxEvents?: number; maxBytes?: number } {
  return b ? { lifeMs: b.lifeMs, maxEvents: b.maxEvents, maxBytes: b.maxBytes } : {};
}

function limitArgs(l: BuyerLimits): LimitsArg {
  return { buyerRate: l.buyer.perSecond, buyerBurst: l.buyer.burst, shopRate: l.shop.perSecond, shopBurst: l.shop.burst };
}

/** A line's card and attachments as appendEvent.lua's `extra` (absent = none). */
function extraArg(x: MessageExtras | undefined): { extra?: string } {
  if (!x || (!x.card && !x.attachments?.length)) return {};
  return { extra: JSON.stringify({ ...(x.card ? { card: x.card } : {}), ...(x.attachments?.length ? { attachments: x.attachments } : {}) }) };
}

/** A ConnRef as a set member: fixed field order, so the same connection is the same string. */
function connMember(r: ConnRef): string {
  return JSON.stringify([r.kind, r.shop, r.id, r.connId]);
}

function toEvent(id: string, fields: string[]): StoredEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  const ev: StoredEvent = { seq: Number(id.slice(0, id.indexOf('-'))), from: f.f as EventFrom, text: f.t ?? '', ts: Number(f.ts) };
  if (f.r) ev.role = f.r;
  if (f.a) ev.agentId = f.a;
  if (f.k) ev.kind = f.k as EventKind;
  if (f.x) Object.assign(ev, JSON.parse(f.x) as MessageExtras);
  return ev;
}

export class RedisStore implements Store {
  readonly kind: Store['kind'];
  readonly bus: Bus;
  readonly webhooks: WebhookOutbox;
  private readonly cmd: ScriptClient;
  private readonly knownShops = new Set<string>();
  /** Marks shops active before their steps, each at most every MARK_EVERY_MS from this instance. */
  private readonly active: IndexMarker;
  private readonly idleTtl: number;
  private readonly activeHold: number;
  private readonly probeKey: string;

  private constructor(
    private readonly client: Client,
    private readonly sub: Client,
    private readonly prefix: string,
    idleTtlMs: number,
    activeHoldMs: number,
    kind: Store['kind'] = 'redis',
    library = false,
  ) {
    this.kind = kind;
    this.activeHold = activeHoldMs;
    this.active = new IndexMarker((shop, wall) => this.guard(this.client.zadd(activeKey(prefix), wall, shop)), Math.min(MARK_EVERY_MS, activeHoldMs / 5));
    this.cmd = defineScripts(client, { sharded: client instanceof Cluster, library });
    this.bus = new RedisBus(client, sub, prefix);
    this.idleTtl = idleTtlMs;
    this.probeKey = readyKey(prefix, randomUUID());
    this.webhooks = new WebhookOutbox(client, (name, key, args) => this.script(name, key, args), prefix, (p) => this.guard(p), activeHoldMs);
  }

  static async connect(opts: RedisStoreOptions): Promise<RedisStore> {
    const client = connect(opts, 'cmd');
    const sub = connect(opts, 'sub');
    const store = new RedisStore(client, sub, opts.keyPrefix, opts.idleSessionTtlMs ?? 24 * 3_600_000, opts.activeHoldMs ?? ACTIVE_HOLD_MS);
    await Promise.all([client.ping(), sub.ping()]);
    await store.checkEpoch();
    return store;
  }

  /** A store over clients made elsewhere (the embedded engine's in-process clients, which take the scripts as a function library). */
  static over(client: Client, sub: Client, opts: { keyPrefix: string; idleSessionTtlMs?: number; activeHoldMs?: number; kind: Store['kind']; library?: boolean }): RedisStore {
    return new RedisStore(client, sub, opts.keyPrefix, opts.idleSessionTtlMs ?? 24 * 3_600_000, opts.activeHoldMs ?? ACTIVE_HOLD_MS, opts.kind, opts.library);
  }

  /** The raw client, for tests and benchmarks that need to look at keys. */
  get redis(): Client {
    return this.client;
  }

  /**
   * Ready means "takes writes", not just "answers": a Redis out of memory (noeviction), a
   * read-only replica or one loading its data answers PING but refuses every write a client
   * would make. So the probe is a cheap write: a key of this store's own that expires.
   */
  async ping(): Promise<boolean> {
    // Not connected: say so now rather than wait in ioredis' offline queue for the next retry.
    if (this.client.status !== 'ready') return false;
    try {
      return (await this.client.set(this.probeKey, '1', 'PX', PROBE_TTL_MS)) === 'OK';
    } catch {
      return false;
    }
  }

  async shutdown(): Promise<void> {
    await Promise.allSettled([this.client.quit(), this.sub.quit()]);
  }

  private p(shop: string): string {
    return shopPrefix(this.prefix, shop);
  }

  /** Not connected right now: fail at once rather than wait in ioredis' queue for the reconnect. */
  private online(): void {
    if (this.client.status !== 'ready') throw new PeakError('unavailable', 'the store is unreachable; retry');
  }

  /** One script of the shop: its argument object in, its checked reply object out (script-io.ts). */
  private async call<N extends ScriptName>(name: N, shop: string, args: ScriptArgs[N]): Promise<ScriptReply<N>> {
    this.online();
    // Marked before the step writes, so a sweep reading the index meanwhile cannot miss it.
    // Both are nearly always done already: then there is no promise to wait for.
    const marking = this.active.mark(shop);
    if (marking) await marking;
    const syncing = this.webhooks.beforeStep(shop);
    if (syncing) await syncing;
    const out = await this.script(name, this.p(shop), args);
    this.webhooks.afterStep(shop);
    return out;
  }

  /** A script with its KEYS[1] given (a shop's prefix, or the active-shops index). */
  private async script<N extends ScriptName>(name: N, key: string, args: ScriptArgs[N]): Promise<ScriptReply<N>> {
    let raw: unknown;
    try {
      raw = await this.cmd[name](key, encodeArgs(name, args));
    } catch (err) {
      translate(err);
    }
    return decodeReply(name, raw);
  }

  private async guard<T>(p: Promise<T>): Promise<T> {
    if (this.client.status !== 'ready') p.catch(() => {}); // already queued; its outcome no longer matters
    this.online();
    try {
      return await p;
    } catch (err) {
      translate(err);
    }
  }

  private async remember(shop: string): Promise<void> {
    if (this.knownShops.has(shop)) return;
    await this.guard(this.client.sadd(shopsKey(this.prefix), shop));
    this.knownShops.add(shop);
  }

  async openSession(shop: string, buyerId: string, now: number, buyer: BuyerIdentity = { vip: 0 }) {
    await this.remember(shop);
    return this.call('openSession', shop, { buyerId, newSessionId: randomUUID(), now, idleTtlMs: this.idleTtl, name: buyer.name ?? '', vip: buyer.vip, historyMax: BUYER_HISTORY_MAX });
  }

  async postBuyerMessage(shop: string, sessionId: string, buyerId: string, msg: BuyerMessage): Promise<BuyerPostResult> {
    const r = await this.call('appendEvent', shop, {
      sessionId, from: 'buyer', actorId: buyerId, clientMsgId: msg.clientMsgId, text: msg.text, ts: msg.ts, role: msg.role,
      enqueue: msg.enqueue, reclassify: msg.reclassify, botFirst: msg.botFirst, leftMessage: msg.leftMessage, ...boundArgs(msg.bounds), ...(msg.limits ? { limits: limitArgs(msg.limits) } : {}),
      vipBoostMs: msg.priority?.vipBoostMs ?? 0, boostMs: msg.priority?.boostMs ?? 0, stickyHoldMs: msg.stickyHoldMs ?? 0, ...extraArg(msg.extras),
    });
    const out: BuyerPostResult = { seq: r.seq, duplicate: r.duplicate, state: r.state };
    if (r.enqueued) out.enqueued = { role: r.role ?? '', position: r.position };
    if (r.movedFrom) out.moved = { fromRole: r.movedFrom, toRole: r.role ?? '', position: r.position };
    return out;
  }

  async postAgentMessage(shop: string, sessionId: string, agentId: string, msg: { clientMsgId: string; text: string; ts: number; bounds?: SessionBounds; extras?: MessageExtras }): Promise<AgentPostResult> {
    const r = await this.call('appendEvent', shop, {
      sessionId, from: 'agent', actorId: agentId, clientMsgId: msg.clientMsgId, text: msg.text, ts: msg.ts, role: '', ...boundArgs(msg.bounds), ...extraArg(msg.extras),
    });
    return { seq: r.seq, duplicate: r.duplicate, role: r.role ?? '', ...(r.firstResponseMs >= 0 ? { firstResponseMs: r.firstResponseMs } : {}), ...(r.replyMs >= 0 ? { replyMs: r.replyMs } : {}) };
  }

  async postBotMessage(shop: string, sessionId: string, msg: { text: string; ts: number; role?: string; perMinute: number; bounds?: SessionBounds }): Promise<BotPostResult> {
    const r = await this.call('appendEvent', shop, {
      sessionId, from: 'bot', actorId: '', clientMsgId: '', text: msg.text, ts: msg.ts, role: msg.role ?? '', botPerMinute: msg.perMinute, ...boundArgs(msg.bounds),
    });
    if (r.suppressed) return { seq: 0, duplicate: false, suppressed: r.suppressed as 'rate' | 'repeat' | 'full' };
    return { seq: r.seq, duplicate: false, ...(r.firstResponseMs >= 0 ? { firstResponseMs: r.firstResponseMs } : {}) };
  }

  async setBuyerContext(shop: string, sessionId: string, ctx: BuyerContext, vipBoostMs = 0): Promise<void> {
    await this.call('setBuyer', shop, { sessionId, json: JSON.stringify(ctx), vipBoostMs });
  }

  async rate(shop: string, sessionId: string, buyerId: string, score: number, comment: string | undefined, now: number) {
    await this.call('rate', shop, { sessionId, buyerId, score, comment: comment ?? '', now });
  }

  async agentConnect(shop: string, agentId: string, connId: string, now: number, allowedRoles?: readonly string[]): Promise<AgentView> {
    await this.remember(shop);
    const a = await this.call('agentConnect', shop, { agentId, connId, now, ...(allowedRoles ? { allowedRoles } : {}) });
    return { id: agentId, shop, ...a, roles: a.roles ? a.roles.split(',') : [] };
  }

  async agentDisconnect(shop: string, agentId: string, connId: string, now: number, graceMs: number) {
    const r = await this.call('agentDisconnect', shop, { agentId, connId, now, graceMs });
    return { offline: r.offline, ...(r.graceUntil ? { graceUntil: r.graceUntil } : {}), requeued: r.requeued };
  }

  async agentReady(shop: string, agentId: string, roles: string[], capacity: number, now: number) {
    await this.call('agentStatus', shop, { agentId, status: 'ready', roles, capacity, now });
  }

  async agentAway(shop: string, agentId: string, now: number) {
    await this.call('agentStatus', shop, { agentId, status: 'away', roles: [], capacity: 0, now });
  }

  async accept(shop: string, sessionId: string, agentId: string, now: number, opts: { stickyWindowMs: number } = { stickyWindowMs: 0 }) {
    const r = await this.call('accept', shop, { sessionId, agentId, now, stickyWindowMs: opts.stickyWindowMs });
    return { role: r.role, ...(r.note ? { note: r.note } : {}), alreadyAssigned: r.alreadyAssigned, ...(r.overflowedTo ? { overflow: true } : {}) };
  }

  async decline(shop: string, sessionId: string, agentId: string, now: number, excludeMs: number): Promise<Requeued> {
    const r = (await this.call('releaseOffer', shop, { sessionId, agentId, now, excludeMs }))!;
    return { sessionId: r.sessionId, buyerId: r.buyerId, role: r.role };
  }

  async expireOffer(shop: string, sessionId: string, now: number, excludeMs: number) {
    return this.call('releaseOffer', shop, { sessionId, agentId: '', now, excludeMs });
  }

  async transfer(
    shop: string,
    sessionId: string,
    agentId: string,
    toRole: string,
    note: string | undefined,
    now: number,
    opts: TransferOptions,
  ): Promise<Transferred> {
    const r = await this.call('transfer', shop, {
      sessionId, agentId, toRole, note: note ?? '', now, excludeMs: opts.excludeMs, boostMs: opts.boostMs, line: opts.line, force: opts.force === true,
    });
    return { fromRole: r.fromRole, buyerId: r.buyerId, position: r.position, ...(r.previousAgentId ? { previousAgentId: r.previousAgentId } : {}) };
  }

  /** close.lua in one of its modes; null only for an idle check that did not hold. */
  private async closeCall(
    shop: string,
    sessionId: string,
    mode: 'close' | 'block' | 'end',
    agentId: string,
    reason: string,
    now: number,
    o: { retentionMs: number; blockMs?: number; rateWindowMs?: number; line?: string; lineKind?: string; goodbye?: string; idleBefore?: number; queuedBefore?: number; offlineBefore?: number },
  ): Promise<Closed | null> {
    const r = await this.call('close', shop, {
      sessionId, mode, agentId, reason, now, retentionMs: o.retentionMs, blockMs: o.blockMs, rateWindowMs: o.rateWindowMs, line: o.line,
      lineKind: o.lineKind, goodbye: o.goodbye, idleBefore: o.idleBefore, queuedBefore: o.queuedBefore, offlineBefore: o.offlineBefore,
    });
    if (!r) return null;
    return { buyerId: r.buyerId, ...(r.agentId ? { agentId: r.agentId } : {}), state: r.state, role: r.role };
  }

  async close(shop: string, sessionId: string, agentId: string, reason: string, now: number, opts: CloseOptions) {
    return (await this.closeCall(shop, sessionId, 'close', agentId, reason, now, { ...opts, line: opts.invite }))!;
  }

  async endSession(shop: string, sessionId: string, reason: string, now: number, opts: { retentionMs: number; line?: { text: string; kind: EventKind } }) {
    return (await this.closeCall(shop, sessionId, 'end', '', reason, now, { retentionMs: opts.retentionMs, line: opts.line?.text, lineKind: opts.line?.kind }))!;
  }

  async idleClose(shop: string, sessionId: string, now: number, silentSince: number, opts: { retentionMs: number; line: { text: string; kind: EventKind } }) {
    return this.closeCall(shop, sessionId, 'end', '', 'idle', now, {
      retentionMs: opts.retentionMs,
      line: opts.line.text,
      lineKind: opts.line.kind,
      idleBefore: silentSince,
    });
  }

  async finishClosing(shop: string, sessionId: string, now: number, opts: { retentionMs: number; goodbye: string; onlyDue: boolean }) {
    return this.call('finish', shop, { sessionId, now, retentionMs: opts.retentionMs, goodbye: opts.goodbye, onlyDue: opts.onlyDue });
  }

  async block(shop: string, sessionId: string, agentId: string, reason: string, now: number, blockMs: number, retentionMs: number) {
    const r = await this.closeCall(shop, sessionId, 'block', agentId, reason, now, { retentionMs, blockMs });
    return { buyerId: r!.buyerId };
  }

  async replyMiss(shop: string, sessionId: string, now: number, cutoff: number, opts: { escalate: Escalation; excludeMs: number }) {
    return this.call('replyMiss', shop, { sessionId, now, cutoff, escalate: opts.escalate, excludeMs: opts.excludeMs });
  }

  async expireGrace(shop: string, agentId: string, now: number): Promise<Requeued[]> {
    return (await this.call('expireGrace', shop, { agentId, now })).requeued;
  }

  async expireQueued(shop: string, sessionId: string, now: number, queuedBefore: number, opts: { retentionMs: number; line: { text: string; kind: EventKind } }) {
    return this.closeCall(shop, sessionId, 'end', '', 'queue_timeout', now, {
      retentionMs: opts.retentionMs,
      line: opts.line.text,
      lineKind: opts.line.kind,
      queuedBefore,
    });
  }

  async abandonQueued(shop: string, sessionId: string, now: number, offlineBefore: number, opts: { retentionMs: number }) {
    return this.closeCall(shop, sessionId, 'end', '', 'abandoned', now, { retentionMs: opts.retentionMs, offlineBefore });
  }

  async limitBuyer(shop: string, buyerId: string, now: number, limits: BuyerLimits): Promise<void> {
    await this.call('limitBuyer', shop, { buyerId, now, limits: limitArgs(limits) });
  }

  async limitUploads(shop: string, sender: string, now: number, bucket: { perSecond: number; burst: number }): Promise<void> {
    await this.call('limitUpload', shop, { sender, now, rate: bucket.perSecond, burst: bucket.burst });
  }

  async dispatch(shop: string, role: string, now: number, offerTimeoutMs: number, max: number, overflowFrom: OverflowSource[] = []): Promise<Offer[]> {
    const sources = overflowFrom.map((o) => ({ role: o.role, afterMs: Math.max(0, Math.round(o.afterMs)) }));
    const r = await this.call('dispatch', shop, { role, now, offerTimeoutMs, max, overflowFrom: sources });
    return r.offers.map((o) => {
      const offer: Offer = { sessionId: o.sessionId, agentId: o.agentId, role: o.role, expiresAt: o.expiresAt };
      if (o.overflow) offer.overflow = true;
      if (o.sticky) offer.sticky = o.sticky === 1 ? 'hit' : 'miss';
      return offer;
    });
  }

  async getSession(shop: string, sessionId: string): Promise<SessionView | null> {
    const h = await this.guard(this.client.hgetall(sessionKey(this.p(shop), sessionId)));
    if (!h.state) return null;
    const view: SessionView = {
      id: sessionId,
      shop,
      buyerId: h.buyer ?? '',
      state: h.state as SessionState,
      role: h.role ?? '',
      arrivedAt: Number(h.arrived ?? 0),
      createdAt: Number(h.created ?? 0),
      lastSeq: Number(h.seq ?? 0),
      roleHistory: h.roles ? h.roles.split(',') : [],
      handovers: h.handovers ? (JSON.parse(h.handovers) as Handover[]) : [],
      replyMisses: Number(h.replyMisses ?? 0),
      vip: Number(h.vip ?? 0),
      buyerOnline: h.off === undefined,
    };
    if (h.off !== undefined) view.buyerOfflineSince = Number(h.off);
    if (h.bname) view.buyerName = h.bname;
    if (h.ovf) view.overflowTo = h.ovf;
    if (h.agent) view.agentId = h.agent;
    if (h.offerExp) view.offerExpiresAt = Number(h.offerExp);
    if (h.lastAgent) view.lastAgentId = h.lastAgent;
    if (h.note) view.note = h.note;
    if (h.closingUntil) view.closingUntil = Number(h.closingUntil);
    if (h.closedReason) view.closedReason = h.closedReason;
    if (h.closedAt) view.closedAt = Number(h.closedAt);
    if (h.rating) view.rating = Number(h.rating);
    if (h.ratingComment) view.ratingComment = h.ratingComment;
    if (h.ctx) view.buyerContext = JSON.parse(h.ctx) as BuyerContext;
    if (h.bf) view.botRole = h.bf;
    if (h.lm) view.leftMessage = true;
    return view;
  }

  async buyerSessions(shop: string, buyerId: string, opts: { limit: number; before?: number }): Promise<{ sessions: SessionView[]; next?: number }> {
    const key = buyerHistoryKey(this.p(shop), buyerId);
    const max = opts.before === undefined ? '+inf' : `(${opts.before}`;
    // One more than asked tells whether another page follows.
    const rows = await this.guard(this.client.zrevrangebyscore(key, max, '-inf', 'WITHSCORES', 'LIMIT', 0, opts.limit + 1));
    const page: { sid: string; created: number }[] = [];
    for (let i = 0; i + 1 < rows.length; i += 2) page.push({ sid: rows[i]!, created: Number(rows[i + 1]) });
    const more = page.length > opts.limit;
    if (more) page.length = opts.limit;
    const views = await Promise.all(page.map((r) => this.getSession(shop, r.sid)));
    // Sessions past their retention are gone; their entries go too.
    const gone = page.filter((_, i) => views[i] === null).map((r) => r.sid);
    if (gone.length) await this.guard(this.client.zrem(key, ...gone));
    const sessions = views.filter((v): v is SessionView => v !== null && v.buyerId === buyerId);
    return more ? { sessions, next: page.at(-1)!.created } : { sessions };
  }

  async getAgent(shop: string, agentId: string): Promise<AgentView | null> {
    const p = this.p(shop);
    const [h, sessions, offers] = await this.guard(
      Promise.all([this.client.hgetall(agentKey(p, agentId)), this.client.smembers(shopKey(p, 'agentSessions', agentId)), this.client.smembers(shopKey(p, 'agentOffers', agentId))]),
    );
    if (!h.status) return null;
    return {
      id: agentId,
      shop,
      status: h.status as AgentStatus,
      roles: h.roles ? h.roles.split(',') : [],
      capacity: Number(h.capacity ?? 0),
      load: Number(h.load ?? 0),
      sessions,
      offers,
      ratingSum: Number(h.ratingSum ?? 0),
      ratingCount: Number(h.ratingCount ?? 0),
      replyMisses: Number(h.replyMisses ?? 0),
    };
  }

  async readEvents(shop: string, sessionId: string, afterSeq: number): Promise<StoredEvent[]> {
    const rows = await this.guard(this.client.xrange(transcriptKey(this.p(shop), sessionId), `${afterSeq + 1}-0`, '+'));
    return rows.map(([id, fields]) => toEvent(id, fields));
  }

  async lastEvents(shop: string, sessionId: string, count: number): Promise<StoredEvent[]> {
    if (count <= 0) return [];
    const rows = await this.guard(this.client.xrevrange(transcriptKey(this.p(shop), sessionId), '+', '-', 'COUNT', count));
    return rows.reverse().map(([id, fields]) => toEvent(id, fields));
  }

  async queuePosition(shop: string, role: string, sessionId: string): Promise<number | null> {
    const rank = await this.guard(this.client.zrank(queueKey(this.p(shop), role), sessionId));
    return rank === null ? null : rank + 1;
  }

  async queueLength(shop: string, role: string): Promise<number> {
    return this.guard(this.client.zcard(queueKey(this.p(shop), role)));
  }

  async assignmentRate(shop: string, role: string, now: number): Promise<number | null> {
    const times = (await this.guard(this.client.lrange(rateKey(this.p(shop), role), 0, -1))).map(Number);
    return rateOf(times, now);
  }

  async listAgents(shop: string): Promise<AgentView[]> {
    const ids = await this.guard(this.client.smembers(agentsKey(this.p(shop))));
    const views = await Promise.all(ids.map((id) => this.getAgent(shop, id)));
    return views.filter((v): v is AgentView => v !== null);
  }

  async queueStats(shop: string, role: string): Promise<QueueStats> {
    const p = this.p(shop);
    const q = queueKey(p, role);
    const [depth, offline, head, raw] = await this.guard(
      Promise.all([this.client.zcard(q), this.client.zcount(q, OFFLINE_SHIFT, '+inf'), this.client.zrange(q, 0, 0), this.client.hgetall(routeStatsKey(p, role))]),
    );
    const counts = Object.fromEntries(ROUTE_COUNTS.map((k) => [k, Number(raw[k] ?? 0)])) as QueueStats['counts'];
    if (!head[0]) return { depth, offline, counts, oldestArrivedAt: null };
    const arrived = await this.guard(this.client.hget(sessionKey(p, head[0]), 'arrived'));
    return { depth, offline, counts, oldestArrivedAt: arrived === null ? null : Number(arrived) };
  }

  async countRouting(shop: string, role: string, what: RouteCount): Promise<void> {
    await this.guard(this.client.hincrby(routeStatsKey(this.p(shop), role), what, 1));
  }

  /** The data's epoch as this process last saw it; a new one means the data it knew is gone. */
  private epoch: string | undefined;

  async checkEpoch(): Promise<boolean> {
    const key = epochKey(this.prefix);
    await this.guard(this.client.set(key, randomUUID(), 'NX'));
    const current = await this.guard(this.client.get(key));
    const lost = this.epoch !== undefined && current !== this.epoch;
    this.epoch = current ?? undefined;
    if (!lost) return false;
    // Every shop this process knew is a shop again, and due for a sweep; webhook
    // subscriptions are written again before each shop's next step.
    this.active.clear();
    this.webhooks.forget();
    if (this.knownShops.size) await this.guard(this.client.sadd(shopsKey(this.prefix), ...this.knownShops));
    return true;
  }

  async heartbeat(instanceId: string, now: number): Promise<void> {
    await this.guard(this.client.zadd(instancesKey(this.prefix), now, instanceId));
  }

  async staleInstances(before: number): Promise<string[]> {
    return this.guard(this.client.zrangebyscore(instancesKey(this.prefix), '-inf', `(${before}`));
  }

  async claimInstance(instanceId: string): Promise<ConnRef[] | null> {
    // ZREM is the claim: of several instances noticing the death, one gets 1.
    if ((await this.guard(this.client.zrem(instancesKey(this.prefix), instanceId))) !== 1) return null;
    const key = instanceKey(this.prefix, instanceId);
    const members = await this.guard(this.client.smembers(key));
    await this.guard(this.client.del(key));
    return members.map((m) => {
      const [kind, shop, id, connId] = JSON.parse(m) as [ConnRef['kind'], string, string, string];
      return { kind, shop, id, connId };
    });
  }

  async trackConn(instanceId: string, ref: ConnRef): Promise<void> {
    await this.guard(this.client.sadd(instanceKey(this.prefix, instanceId), connMember(ref)));
  }

  async untrackConn(instanceId: string, ref: ConnRef): Promise<void> {
    await this.guard(this.client.srem(instanceKey(this.prefix, instanceId), connMember(ref)));
  }

  async buyerConnect(shop: string, buyerId: string, connId: string, max: number, now: number): Promise<void> {
    await this.call('buyerConnect', shop, { buyerId, connId, max, now });
  }

  async buyerDisconnect(shop: string, buyerId: string, connId: string, now: number): Promise<void> {
    await this.call('buyerDisconnect', shop, { buyerId, connId, now });
  }

  async getSharedConfig(): Promise<SharedConfig | null> {
    const h = await this.guard(this.client.hgetall(configKey(this.prefix)));
    if (!h.doc || !h.version) return null;
    return { doc: h.doc, version: h.version, source: h.source ?? '', updatedAt: Number(h.updatedAt ?? 0) };
  }

  async publishSharedConfig(c: SharedConfig): Promise<void> {
    const key = configKey(this.prefix);
    await this.guard(this.client.hset(key, { doc: c.doc, version: c.version, source: c.source, updatedAt: String(c.updatedAt) }));
    // Announced after it is stored: whoever hears the version can read the document.
    await this.guard((this.bus as RedisBus).send(key, c.version));
  }

  async watchSharedConfig(onVersion: (version: string) => void): Promise<void> {
    await this.guard((this.bus as RedisBus).listen(configKey(this.prefix), onVersion));
  }

  async shops(): Promise<string[]> {
    return this.guard(this.client.smembers(shopsKey(this.prefix)));
  }

  async dueShops(now: number, limit: number): Promise<DueShop[]> {
    const flat = await this.guard(this.client.zrangebyscore(activeKey(this.prefix), '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit));
    const out: DueShop[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ shop: flat[i]!, mark: Number(flat[i + 1]) });
    return out;
  }

  async activeShops(): Promise<string[]> {
    return this.guard(this.client.zrange(activeKey(this.prefix), 0, -1));
  }

  async sweepShop(shop: string, mark: number, now: number, o: SweepOptions): Promise<ShopWork> {
    this.online();
    const { nextDue, ...work } = await this.script('sweepShop', this.p(shop), {
      now, silentSince: o.silentSince ?? -1, replyCutoff: o.replyCutoff, queuedBefore: o.queuedBefore ?? -1, idleCloseMs: o.idleCloseMs,
      replyWindowMs: o.replyWindowMs, maxQueuedMs: o.maxQueuedMs, batch: DUE_BATCH, roles: o.roles, abandonMs: o.abandonMs ?? -1,
    });
    // A mark this fresh may belong to a step that had not written yet when the shop was read.
    if (mark < Date.now() - this.activeHold) {
      await this.script('reschedule', activeKey(this.prefix), { shop, mark, ...(nextDue < 0 ? {} : { nextDue: Math.min(nextDue, now + MAX_DEFER_MS) }) });
    }
    return work;
  }

  async reindexShops(now: number, opts: { onlyIfEmpty?: boolean } = {}): Promise<number> {
    if (opts.onlyIfEmpty && (await this.guard(this.client.exists(activeKey(this.prefix)))) === 1) return 0;
    const shops = new Set([...(await this.shops()), ...this.knownShops]);
    const all = [...shops];
    for (let i = 0; i < all.length; i += 500) {
      const chunk = all.slice(i, i + 500);
      await this.guard(this.client.zadd(activeKey(this.prefix), 'NX', ...chunk.flatMap((shop) => [now, shop])));
    }
    return all.length;
  }

  async dueOffers(shop: string, now: number): Promise<string[]> {
    return this.guard(this.client.zrangebyscore(offersKey(this.p(shop)), '-inf', now));
  }

  async dueGrace(shop: string, now: number): Promise<string[]> {
    return this.guard(this.client.zrangebyscore(graceKey(this.p(shop)), '-inf', now));
  }

  async dueClosing(shop: string, now: number): Promise<string[]> {
    return this.guard(this.client.zrangebyscore(closingKey(this.p(shop)), '-inf', now, 'LIMIT', 0, DUE_BATCH));
  }

  async dueIdle(shop: string, silentSince: number): Promise<string[]> {
    return this.guard(this.client.zrangebyscore(idleKey(this.p(shop)), '-inf', silentSince, 'LIMIT', 0, DUE_BATCH));
  }

  async dueReplies(shop: string, cutoff: number): Promise<string[]> {
    return this.guard(this.client.zrangebyscore(replyKey(this.p(shop)), '-inf', cutoff, 'LIMIT', 0, DUE_BATCH));
  }

  async recordPlanStats(shop: string, role: string, at: number, rec: PlanRecord, opts: PlanStatsOptions): Promise<void> {
    const start = bucketStartOf(at, opts.bucketMs);
    await this.call('planRecord', shop, {
      bucketStart: start,
      bucketMs: opts.bucketMs,
      expireAtMs: bucketExpiresAt(start, opts.bucketMs, opts.retentionMs),
      role,
      now: Math.round(at),
      assignedSid: rec.assigned?.sessionId ?? '',
      agentId: rec.assigned?.agentId ?? '',
      handledSid: rec.handled?.sessionId ?? '',
      markTtlMs: Math.min(ASSIGNED_MARK_TTL_MS, opts.retentionMs),
      increments: Object.fromEntries(increments(rec)),
    });
  }

  async planStats(shop: string, from: number, to: number, bucketMs: number): Promise<PlanBucket[]> {
    const starts = bucketStarts(from, to, bucketMs);
    if (!starts.length) return [];
    const p = this.p(shop);
    const hashes = await this.guard(Promise.all(starts.map((t) => this.client.hgetall(planBucketKey(p, bucketMs, t)))));
    return starts.flatMap((t, i) => bucketRows(t, hashes[i]!));
  }

  async recordRecent(shop: string, at: number, rec: RecentRecord, opts: RecentOptions): Promise<void> {
    const bucket = bucketStartOf(at, opts.bucketMs);
    const { add, max } = recordFields(rec);
    if (!Object.keys(add).length) return;
    // cjson decodes an empty JSON object as an empty table: `max` may be {}.
    const args = { bucket, bucketMs: opts.bucketMs, expireAt: bucket + opts.bucketMs + opts.keepMs, role: rec.role, add, max };
    await this.call('recentRecord', shop, args);
  }

  async sampleRecent(shop: string, now: number, roles: readonly string[], opts: RecentOptions): Promise<boolean> {
    const bucket = bucketStartOf(now, opts.bucketMs);
    const args = { bucket, bucketMs: opts.bucketMs, expireAt: bucket + opts.bucketMs + opts.keepMs, now: Math.round(now), roles };
    // Not this.call: a sample must not mark the shop active (it would never go idle).
    this.online();
    return (await this.script('recentSample', this.p(shop), args)).sampled;
  }

  async recentStats(shop: string, from: number, to: number, bucketMs: number): Promise<RecentBucket[]> {
    const starts = bucketStarts(from, to, bucketMs, 10_000);
    if (!starts.length) return [];
    const p = this.p(shop);
    const hashes = await this.guard(Promise.all(starts.map((t) => this.client.hgetall(recentBucketKey(p, bucketMs, t)))));
    return starts.flatMap((t, i) => recentRows(t, hashes[i]!));
  }
}
