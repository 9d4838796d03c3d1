import type { RecentBucket, RecentOptions, RecentRecord } from './recent-stats.ts';
import type { BuyerContext, Card, EventFrom, EventKind, MessageOut } from '../protocol/frames.ts';
import type { SessionState } from './lifecycle.ts';
import type { BuyerLimits } from './limits.ts';

export type { BuyerLimits };

/**
 * The store contract, kept by RedisStore: its Lua scripts on a Redis server (shared by several
 * gateway instances), or the same scripts on the embedded in-process engine (kind 'memory',
 * one process, for `npm start` without Redis). test/store-contract.test.ts runs the same
 * cases against both.
 *
 * Every method that changes more than one thing does it atomically. Methods throw
 * PeakError with a protocol error code for anything a client caused.
 */

export type { SessionState };
export type AgentStatus = 'ready' | 'away' | 'offline';

export interface SessionView {
  id: string;
  shop: string;
  buyerId: string;
  state: SessionState;
  /** '' until the first buyer message classifies the session. */
  role: string;
  /** Queue priority: the arrival time of the buyer's first message (ms). Kept across re-queues. */
  arrivedAt: number;
  createdAt: number;
  lastSeq: number;
  /** The assigned agent, or the agent holding the offer while `offered`. */
  agentId?: string;
  offerExpiresAt?: number;
  /** The agent that last owned the session (kept after close, for ratings). */
  lastAgentId?: string;
  /** Roles in the order the session visited them. */
  roleHistory: string[];
  /** Every transfer, oldest first, with its note. */
  handovers: Handover[];
  /** The note of the latest transfer. */
  note?: string;
  /** While `closing`: when the rating window ends. */
  closingUntil?: number;
  closedReason?: string;
  closedAt?: number;
  rating?: number;
  ratingComment?: string;
  /** Times the agent let the buyer wait past the reply window. */
  replyMisses: number;
  /** What the shop's context hook said about the buyer, once it answered. */
  buyerContext?: BuyerContext;
  /** The buyer as its token (or the context hook) describes it. */
  buyerName?: string;
  /** VIP level 0..9: raises the session's place in its queue (routing.vipBoostMs per level). */
  vip: number;
  /** Whether any connection of the buyer is live (any instance). */
  buyerOnline: boolean;
  /** While offline: since when. */
  buyerOfflineSince?: number;
  /** Offered or assigned to an agent of this other role by routing.overflow. */
  overflowTo?: string;
  /** The bot-first role whose FAQ bot answered the buyer while the session was with the bot. */
  botRole?: string;
  /** Queued outside its role's business hours: waits without queue timeout or abandonment. */
  leftMessage?: boolean;
}

/** Who a session's buyer is, from the token (kept on the session). */
export interface BuyerIdentity {
  name?: string;
  vip: number;
}

export interface Handover {
  fromRole: string;
  toRole: string;
  agentId: string;
  note?: string;
  ts: number;
}

export interface AgentView {
  id: string;
  shop: string;
  status: AgentStatus;
  roles: string[];
  capacity: number;
  /** Offered + assigned sessions. Never exceeds capacity through dispatch. */
  load: number;
  sessions: string[];
  offers: string[];
  /** Sum and count of the ratings of sessions this agent closed. */
  ratingSum: number;
  ratingCount: number;
  replyMisses: number;
}

/** A transcript event as stored. `seq` is per session, strictly increasing from 1. */
export interface StoredEvent {
  seq: number;
  from: EventFrom;
  text: string;
  ts: number;
  role?: string;
  agentId?: string;
  /** Set on the bot's lines that belong to a state change (handover, rating invite, goodbye, idle close). */
  kind?: EventKind;
  card?: Card;
  attachments?: StoredAttachment[];
}

/** An attachment as the transcript keeps it: the upload's own type and size, and where it is served. */
export type StoredAttachment = NonNullable<MessageOut['attachments']>[number];

/** What a message carries besides its text. */
export interface MessageExtras {
  card?: Card;
  attachments?: StoredAttachment[];
}

export interface Offer {
  sessionId: string;
  agentId: string;
  /** The session's own role (an overflow offer keeps it). */
  role: string;
  expiresAt: number;
  /** Offered to an agent of another role by routing.overflow. */
  overflow?: boolean;
  /** The buyer had a known agent (routing.sticky): `hit` offered to them, `miss` to someone else. */
  sticky?: 'hit' | 'miss';
}

/** A role whose waiting sessions may also go to the dispatched role's agents after `afterMs` (routing.overflow). */
export interface OverflowSource {
  role: string;
  afterMs: number;
}

export interface Requeued {
  sessionId: string;
  buyerId: string;
  role: string;
}

/** Who a bus payload is for: every local connection of this buyer or agent in this shop. */
export interface Address {
  kind: 'buyer' | 'agent';
  shop: string;
  id: string;
}

/**
 * Fan-out between gateway instances. Payloads are serialized server frames, forwarded to
 * sockets as they are. The store publishes transcript `message` frames itself, inside the
 * same atomic step that assigns `seq`, so every subscriber sees them in seq order.
 */
export interface Bus {
  subscribe(address: Address, onPayload: (payload: string) => void): Promise<void>;
  unsubscribe(address: Address): Promise<void>;
  publish(address: Address, payload: string): Promise<void>;
  /**
   * `fn` runs whenever the bus has subscribed again after losing its connection: anything
   * published in between was not delivered, and subscribers should catch up from the store.
   */
  onResubscribe(fn: () => void): void;
}

export interface PostResult {
  seq: number;
  /** The clientMsgId was seen before; nothing was stored, `seq` is the original one. */
  duplicate: boolean;
  /** Set on the first bot or agent line after the buyer's first message: how long the buyer waited (ms). */
  firstResponseMs?: number;
}

export interface AgentPostResult extends PostResult {
  /** The session's role. */
  role: string;
  /** Set on a line that answers a waiting buyer: how long it waited (ms) since its line or the assignment. */
  replyMs?: number;
}

export interface BuyerPostResult extends PostResult {
  /** Set when this message moved the session from `bot` into a queue. */
  enqueued?: { role: string; position: number };
  /** Set when this message moved a waiting session to another role's queue. */
  moved?: { fromRole: string; toRole: string; position: number };
  /** The session's state after this message (`assigned`: a human is on it). */
  state: SessionState;
}

export interface BotPostResult extends PostResult {
  /** Not stored: the session's bot allowance for the minute is used up, the text repeats the last one, or the transcript is full. */
  suppressed?: 'rate' | 'repeat' | 'full';
}

/** Bounds of one session's data (config `sessions.*`); 0 = none. */
export interface SessionBounds {
  /** An open (queued or served) session's keys expire this long after its last event. */
  lifeMs: number;
  /** Transcript cap: past it buyer and agent lines are `too_large`, bot lines are suppressed. */
  maxEvents: number;
  maxBytes: number;
}

export interface BuyerMessage {
  clientMsgId: string;
  text: string;
  ts: number;
  /** The classifier's role for this text. */
  role: string;
  /** A `bot` session enters `role`'s queue with this message (false: a bot answered it fully). */
  enqueue: boolean;
  /** A rule matched `role`; a waiting session in another role's queue moves there. */
  reclassify: boolean;
  bounds?: SessionBounds;
  /** The buyer's and the shop's rate limits for buyer lines; over them: `rate_limited`, nothing stored. */
  limits?: BuyerLimits;
  extras?: MessageExtras;
  /** Queue priority on entering the queue: the session queues this much earlier per VIP level, plus `boostMs`. */
  priority?: { vipBoostMs: number; boostMs: number };
  /** Entering the queue, the session waits this long at most for the buyer's known agent if that agent is ready for the role (routing.sticky). */
  stickyHoldMs?: number;
  /**
   * `role` is bot-first (bots.mode): a `bot` session the bot answered remembers it (`botRole`);
   * entering the queue, it keeps the arrival time of its first buyer line.
   */
  botFirst?: boolean;
  /** `role` is outside its business hours: the session queues as a left message (no queue timeout, no abandonment). */
  leftMessage?: boolean;
}

export interface Store {
  readonly kind: 'redis' | 'memory';
  readonly bus: Bus;
  /** The shops' webhook outboxes (src/store/redis/webhook-outbox.ts). */
  readonly webhooks: WebhookStore;
  /** True when the store answers now (for /readyz). */
  ping(): Promise<boolean>;
  /** Releases connections; the store is unusable afterwards. */
  shutdown(): Promise<void>;

  // ---- buyers ----
  /** The buyer's open session in this shop, or a new one in state `bot`. Throws `blocked`. */
  openSession(shop: string, buyerId: string, now: number, buyer?: BuyerIdentity): Promise<{ sessionId: string; lastSeq: number; created: boolean }>;
  /**
   * Stores a buyer message and publishes it to the assigned agent. A `bot` session enters
   * the queue (when `enqueue`); a waiting one moves queue when `reclassify` names another role.
   */
  postBuyerMessage(shop: string, sessionId: string, buyerId: string, msg: BuyerMessage): Promise<BuyerPostResult>;
  /** Rating by its buyer of a session in its rating window (`closing`); once. */
  rate(shop: string, sessionId: string, buyerId: string, score: number, comment: string | undefined, now: number): Promise<void>;
  /** Keeps the context hook's answer on an existing session (nothing when it is gone). */
  setBuyerContext(shop: string, sessionId: string, ctx: BuyerContext, vipBoostMs?: number): Promise<void>;

  // ---- bots ----
  /** Stores a bot line unless it breaks the per-minute cap or repeats the previous bot line. */
  postBotMessage(shop: string, sessionId: string, msg: { text: string; ts: number; role?: string; perMinute: number; bounds?: SessionBounds }): Promise<BotPostResult>;

  // ---- agents ----
  /**
   * Registers a live connection; an agent coming back within grace gets its sessions and state
   * back. `allowedRoles` (the token's claim; undefined = all) narrows the roles it returns to
   * being ready for; with none left it comes back `away`. Sessions it holds stay with it.
   */
  agentConnect(shop: string, agentId: string, connId: string, now: number, allowedRoles?: readonly string[]): Promise<AgentView>;
  /**
   * Drops a connection. When it was the last one the agent goes offline: pending offers are
   * re-queued at once, assigned sessions wait `graceMs` (see expireGrace).
   */
  agentDisconnect(
    shop: string,
    agentId: string,
    connId: string,
    now: number,
    graceMs: number,
  ): Promise<{ offline: boolean; graceUntil?: number; requeued: Requeued[] }>;
  agentReady(shop: string, agentId: string, roles: string[], capacity: number, now: number): Promise<void>;
  agentAway(shop: string, agentId: string, now: number): Promise<void>;
  postAgentMessage(
    shop: string,
    sessionId: string,
    agentId: string,
    msg: { clientMsgId: string; text: string; ts: number; bounds?: SessionBounds; extras?: MessageExtras },
  ): Promise<AgentPostResult>;
  /** Turns this agent's live offer into an assignment. Accepting an owned session again is a no-op. */
  /** `stickyWindowMs`: the agent stays the buyer's known agent this long (routing.sticky; 0 = not). */
  accept(shop: string, sessionId: string, agentId: string, now: number, opts?: { stickyWindowMs: number }): Promise<{ role: string; note?: string; alreadyAssigned: boolean; overflow?: boolean }>;
  /** Puts the offered session back at the head of its queue; this agent is skipped for it for `excludeMs`. */
  decline(shop: string, sessionId: string, agentId: string, now: number, excludeMs: number): Promise<Requeued>;
  /** Re-queues an offer whose time is up; null when it was already answered or is not due. */
  expireOffer(shop: string, sessionId: string, now: number, excludeMs: number): Promise<(Requeued & { agentId: string }) | null>;
  /**
   * Moves an assigned session to `toRole`'s queue at its arrival time less `boostMs` (so ahead
   * of newer sessions). The buyer gets `handover` and then `line` (unless ''), the agent
   * `session_closed` (transferred), all within the same atomic step. With `force` (ops), a
   * queued or offered session moves too and `agentId` names who did it; the agent that held
   * it, if any, gets `session_closed` or `revoked`.
   */
  transfer(
    shop: string,
    sessionId: string,
    agentId: string,
    toRole: string,
    note: string | undefined,
    now: number,
    opts: TransferOptions,
  ): Promise<Transferred>;
  /**
   * Its agent ends the chat. With `rateWindowMs` > 0 the session goes `closing` and the buyer
   * gets `invite`; `finishClosing` ends it. With 0 it closes at once after `goodbye`.
   */
  close(
    shop: string,
    sessionId: string,
    agentId: string,
    reason: string,
    now: number,
    opts: CloseOptions,
  ): Promise<Closed>;
  /** The system ends a session in any unfinished state (ops, shutdown of a shop…), saying `line` first if given. */
  endSession(shop: string, sessionId: string, reason: string, now: number, opts: { retentionMs: number; line?: BotLine }): Promise<Closed>;
  /**
   * Ends a `bot` or `assigned` session whose buyer has said nothing since before `silentSince`
   * (the idle close); null when it is not (or no longer) idle.
   */
  idleClose(shop: string, sessionId: string, now: number, silentSince: number, opts: { retentionMs: number; line: BotLine }): Promise<Closed | null>;
  /**
   * The rating window is over (`onlyDue`: only if its time is up, else null) or the buyer
   * rated: the buyer gets `goodbye`, then the session is closed.
   */
  finishClosing(
    shop: string,
    sessionId: string,
    now: number,
    opts: { retentionMs: number; goodbye: string; onlyDue: boolean },
  ): Promise<{ buyerId: string; reason: string } | null>;
  /** Closes the session and blocks its buyer in this shop for `blockMs`. */
  block(
    shop: string,
    sessionId: string,
    agentId: string,
    reason: string,
    now: number,
    blockMs: number,
    retentionMs: number,
  ): Promise<{ buyerId: string }>;
  /**
   * Counts a reply-window miss of a session whose buyer has waited since at or before `cutoff`
   * for its agent (once per wait) and escalates: `alert` sends the agent `reply_overdue`,
   * `reoffer` re-queues the session (the agent gets `session_closed`). Null: nothing missed.
   */
  replyMiss(
    shop: string,
    sessionId: string,
    now: number,
    cutoff: number,
    opts: { escalate: Escalation; excludeMs: number },
  ): Promise<{ agentId: string; buyerId: string; role: string; waitingSince: number; requeued: boolean } | null>;
  /** Re-queues the sessions of an agent still offline after its grace period; [] otherwise. */
  expireGrace(shop: string, agentId: string, now: number): Promise<Requeued[]>;
  /**
   * Ends a `queued` session that has waited without an agent since at or before
   * `queuedBefore` (sessions.maxQueuedMs), saying `line`; null when it no longer has.
   */
  expireQueued(shop: string, sessionId: string, now: number, queuedBefore: number, opts: { retentionMs: number; line: BotLine }): Promise<Closed | null>;
  /**
   * Ends a `queued` session whose buyer has been offline since at or before `offlineBefore`
   * (sessions.abandonMs) with reason `abandoned`; null when it no longer is (back, or taken).
   */
  abandonQueued(shop: string, sessionId: string, now: number, offlineBefore: number, opts: { retentionMs: number }): Promise<Closed | null>;
  /** Counts one buyer frame against the buyer's and the shop's rate limits; `rate_limited` over them. */
  limitBuyer(shop: string, buyerId: string, now: number, limits: BuyerLimits): Promise<void>;
  /** Counts one upload of `sender` (`<kind>:<id>`) across every instance; `rate_limited` when its bucket is empty. */
  limitUploads(shop: string, sender: string, now: number, bucket: { perSecond: number; burst: number }): Promise<void>;

  // ---- routing ----
  /**
   * Reserves up to `max` (oldest session, best agent) pairs of one role: the agent with the
   * lowest load, then the longest idle, that is ready, has free capacity and is not excluded.
   * Agents its own queue leaves idle get sessions of `overflowFrom` roles that have waited
   * without an agent longer than their `afterMs` (those offers have `overflow`).
   */
  dispatch(shop: string, role: string, now: number, offerTimeoutMs: number, max: number, overflowFrom?: OverflowSource[]): Promise<Offer[]>;

  // ---- reads ----
  getSession(shop: string, sessionId: string): Promise<SessionView | null>;
  getAgent(shop: string, agentId: string): Promise<AgentView | null>;
  /**
   * The buyer's sessions in the shop, newest first, from its history index: at most `limit`,
   * created before `before` (ms, exclusive) when given. `next` is the `before` of the page
   * after this one, absent on the last page. Sessions past their retention are not listed.
   */
  buyerSessions(shop: string, buyerId: string, opts: { limit: number; before?: number }): Promise<{ sessions: SessionView[]; next?: number }>;
  /** Events with seq > afterSeq, oldest first. */
  readEvents(shop: string, sessionId: string, afterSeq: number): Promise<StoredEvent[]>;
  /** The last `count` events, oldest first. */
  lastEvents(shop: string, sessionId: string, count: number): Promise<StoredEvent[]>;
  /** 1-based place in the role's queue, or null when not queued there. */
  queuePosition(shop: string, role: string, sessionId: string): Promise<number | null>;
  queueLength(shop: string, role: string): Promise<number>;
  /** Assignments per second in `role` over its recent assignments (last 50, last 10 minutes); null when too few. */
  assignmentRate(shop: string, role: string, now: number): Promise<number | null>;

  // ---- ops ----
  /** Every agent that ever connected to the shop (offline ones included). */
  listAgents(shop: string): Promise<AgentView[]>;
  queueStats(shop: string, role: string): Promise<QueueStats>;
  /**
   * Counts one routing outcome of a role (an overflow or sticky offer, an abandoned session, a
   * session the bot-first bot resolved alone), shared by every instance, for the admin view.
   */
  countRouting(shop: string, role: string, what: RouteCount): Promise<void>;

  /**
   * True once after the store lost its data since the last call (Redis restarted empty or
   * was flushed): the caller re-registers what it holds in memory (src/domain/recovery.ts).
   * The store itself re-adds the shops this process knows to the set of shops.
   */
  checkEpoch(): Promise<boolean>;

  // ---- instances and live connections ----
  /** Marks a gateway instance alive at `now`. */
  heartbeat(instanceId: string, now: number): Promise<void>;
  /** Instances whose last heartbeat is older than `before`. */
  staleInstances(before: number): Promise<string[]>;
  /** Takes a dead instance off the list and returns its connections; null when another instance got there first. */
  claimInstance(instanceId: string): Promise<ConnRef[] | null>;
  /** Records a live connection of an instance (so others can clean it up if the instance dies). */
  trackConn(instanceId: string, ref: ConnRef): Promise<void>;
  untrackConn(instanceId: string, ref: ConnRef): Promise<void>;
  /** Registers a buyer's connection; `rate_limited` when the buyer already has `max` (on all instances). */
  /** The first live connection brings the buyer's open session online (agents get `buyer_status`). */
  buyerConnect(shop: string, buyerId: string, connId: string, max: number, now: number): Promise<void>;
  /** The last one gone takes it offline: queued, it waits behind online buyers and its abandonment clock runs. */
  buyerDisconnect(shop: string, buyerId: string, connId: string, now: number): Promise<void>;

  // ---- shared config ----
  /** The config last published for every instance; null before the first. */
  getSharedConfig(): Promise<SharedConfig | null>;
  /** Stores `c` as the config every instance runs and announces its version. */
  publishSharedConfig(c: SharedConfig): Promise<void>;
  /** Calls back with the version whenever a config is published (by any instance). */
  watchSharedConfig(onVersion: (version: string) => void): Promise<void>;

  // ---- sweeping (recovery of timers another instance owned) ----
  /** Every shop ever seen (for ops; the sweeper and metrics use the active index instead). */
  shops(): Promise<string[]>;
  /**
   * The index of active shops (src/store/active.ts): shops due for a sweep by `now`, at most
   * `limit`, each with the mark sweepShop needs.
   */
  dueShops(now: number, limit: number): Promise<DueShop[]>;
  /** Every shop in the index: something is pending there (a live session, a timer). */
  activeShops(): Promise<string[]>;
  /**
   * Everything due in one shop in one read, and the shop moved in the index to when it next
   * falls due (dropped when nothing is pending), unless it was marked again since `mark`.
   */
  sweepShop(shop: string, mark: number, now: number, opts: SweepOptions): Promise<ShopWork>;
  /**
   * Puts every shop this store knows of (the set of shops, and this process' memory of them)
   * in the index as due now; with `onlyIfEmpty` only when the index is empty (an upgrade).
   */
  reindexShops(now: number, opts?: { onlyIfEmpty?: boolean }): Promise<number>;
  dueOffers(shop: string, now: number): Promise<string[]>;
  dueGrace(shop: string, now: number): Promise<string[]>;
  /** Sessions whose rating window is over. */
  dueClosing(shop: string, now: number): Promise<string[]>;
  /** Sessions whose buyer has been silent since at or before `silentSince` (candidates for idleClose). */
  dueIdle(shop: string, silentSince: number): Promise<string[]>;
  /** Sessions whose buyer has waited for the agent since at or before `cutoff` (candidates for replyMiss). */
  dueReplies(shop: string, cutoff: number): Promise<string[]>;

  // ---- staffing-plan stats (src/plan) ----
  /**
   * Adds `rec` to the stats of `role` in the bucket holding `at` (kept until `retentionMs`
   * after the bucket ends). `assigned` starts the session's handle time and samples its
   * agent's sessions and capacity; `handled` ends the handle time the last `assigned` began.
   */
  recordPlanStats(shop: string, role: string, at: number, rec: PlanRecord, opts: PlanStatsOptions): Promise<void>;
  /** Every non-empty (role, bucket) with a bucket start in [from, to), oldest first. */
  planStats(shop: string, from: number, to: number, bucketMs: number): Promise<PlanBucket[]>;

  // ---- ops dashboard's recent stats (src/store/recent-stats.ts) ----
  /** Adds one event to its role's counters in the bucket holding `at`. */
  recordRecent(shop: string, at: number, rec: RecentRecord, opts: RecentOptions): Promise<void>;
  /**
   * Samples the queues and agents of `roles` into the bucket holding `now`, unless an instance
   * already did for that bucket (false then). Does not mark the shop active: a sample is not work.
   */
  sampleRecent(shop: string, now: number, roles: readonly string[], opts: RecentOptions): Promise<boolean>;
  /** Every non-empty (role, bucket) with a bucket start in [from, to), oldest first. */
  recentStats(shop: string, from: number, to: number, bucketMs: number): Promise<RecentBucket[]>;
}

/** What the staffing plan counts per shop, role and time bucket. Times are milliseconds. */
export const PLAN_COUNTERS = [
  /** Sessions that entered the role's queue for the first time. */
  'arrivals',
  /** Sessions transferred into the role's queue. */
  'transfersIn',
  /** Buyers gone while waiting, and how long they had waited. */
  'abandoned',
  'abandonWaitMs',
  /** Sessions an agent accepted (first or again, after a transfer or re-queue). */
  'assigned',
  /** First assignments to a human, and how long those buyers had waited since arriving. */
  'answered',
  'waitMs',
  /** Chats an agent finished (closed, blocked or transferred) and how long each held the agent. */
  'handled',
  'handleMs',
  /** At each assignment: the agent's sessions (this one included) and its capacity. */
  'concurrencySum',
  'capacitySum',
] as const;
export type PlanCounter = (typeof PLAN_COUNTERS)[number];

export interface PlanRecord {
  counts?: Partial<Record<PlanCounter, number>>;
  assigned?: { sessionId: string; agentId: string };
  handled?: { sessionId: string };
}

export interface PlanStatsOptions {
  bucketMs: number;
  retentionMs: number;
}

export interface PlanBucket {
  role: string;
  bucketStart: number;
  counts: Record<PlanCounter, number>;
}

export type Escalation = 'none' | 'alert' | 'reoffer';

export interface DueShop {
  shop: string;
  /** Its score in the index when read: sweepShop moves it only if it is unchanged. */
  mark: number;
}

export interface SweepOptions {
  /** Idle close: sessions silent since at or before this; null = idle close off. */
  silentSince: number | null;
  idleCloseMs: number;
  /** Missed replies: waits that began at or before this. */
  replyCutoff: number;
  replyWindowMs: number;
  /** Queue limit: sessions waiting since at or before this; null = none. */
  queuedBefore: number | null;
  maxQueuedMs: number;
  /** Abandonment: a queued session whose buyer has been offline this long; null = never. */
  abandonMs?: number | null;
  roles: readonly string[];
}

export interface ShopWork {
  offers: string[];
  grace: string[];
  closing: string[];
  idle: string[];
  replies: string[];
  /** Sessions that waited past sessions.maxQueuedMs (candidates for expireQueued). */
  queueExpired: string[];
  /** Sessions whose buyer has been offline past sessions.abandonMs (candidates for abandonQueued). */
  abandoned: string[];
  /** Sessions waiting in the shop's queues. */
  queued: number;
}

/** One live WebSocket of a gateway instance. */
export interface ConnRef {
  kind: 'buyer' | 'agent';
  shop: string;
  id: string;
  connId: string;
}

/** The config every instance runs (see src/config/config-sync.ts). */
export interface SharedConfig {
  /** The shared config document as JSON. */
  doc: string;
  version: string;
  source: string;
  updatedAt: number;
}

/** Routing outcomes counted per role in the store (all instances): see countRouting. */
export const ROUTE_COUNTS = ['overflowed', 'sticky', 'abandoned', 'deflected'] as const;
export type RouteCount = (typeof ROUTE_COUNTS)[number];

export interface QueueStats {
  depth: number;
  /** Of those, sessions whose buyer is offline (offered only after the online ones). */
  offline: number;
  /** Routing outcomes of the role so far, every instance's (countRouting). */
  counts: Record<RouteCount, number>;
  /** Arrival time of the session at the head of the queue; null when empty. */
  oldestArrivedAt: number | null;
}

/** A bot line written as part of a state change. */
export interface BotLine {
  text: string;
  kind: EventKind;
}

export interface TransferOptions {
  /** The agent that held it is skipped for it this long. */
  excludeMs: number;
  /** Queue priority ahead of its arrival time. */
  boostMs: number;
  /** The bot's line to the buyer ('' = none). */
  line: string;
  /** Ops: any waiting or served session, not only the caller's. */
  force?: boolean;
}

export interface CloseOptions {
  retentionMs: number;
  /** 0 = no rating window: goodbye and closed at once. */
  rateWindowMs: number;
  invite: string;
  goodbye: string;
}

export interface Transferred {
  fromRole: string;
  buyerId: string;
  position: number;
  /** The agent that held (or was offered) it before. */
  previousAgentId?: string;
}

export interface Closed {
  buyerId: string;
  /** The agent that held or was offered the session, if any. */
  agentId?: string;
  state: 'closing' | 'closed';
  role: string;
}

/** An event as a script wrote it to a shop's webhook outbox. */
export interface OutboxEntry {
  /** Its outbox entry id (unique within the shop). */
  entry: string;
  type: string;
  sessionId: string;
  ts: number;
  /** The event's `data`, as JSON. */
  data: string;
}

/** One read of a shop's outbox: its events to deliver, its retries now due (leased), what is left. */
export interface WebhookRound {
  entries: OutboxEntry[];
  retries: { job: string; body: string }[];
  /** Outbox entries not settled yet, these included. */
  backlog: number;
  /** When the next retry (or lease) falls due; null when none is scheduled. */
  retryHead: number | null;
}

export type SettleOp =
  | { job: string; op: 'done' }
  | { job: string; op: 'retry'; at: number; body: string }
  | { job: string; op: 'park'; body: string };

export interface DeadLetter {
  id: string;
  /** The delivery job as it was parked (JSON). */
  body: string;
}

export interface WebhookStore {
  /**
   * Which event types a shop has subscribers for, from the config: the store keeps it where
   * the scripts read it, and indexes shops that have any. `onStep` hears of every step of such
   * a shop on this instance, once it is done (its event, if any, is in the outbox).
   */
  setSubscriptions(eventsOf: (shop: string) => readonly string[], allTypes: readonly string[], onStep?: (shop: string) => void): void;
  /** Shops with webhook work due by `now` (the index), with the mark reschedule needs. */
  dueShops(now: number, limit: number): Promise<DueShop[]>;
  read(shop: string, consumer: string, now: number, opts: { minIdleMs: number; count: number; leaseMs: number }): Promise<WebhookRound>;
  /**
   * Settles delivery jobs, then acknowledges and deletes the outbox `entries` (turned into
   * those jobs) and drops the replayed dead letter, if given (returns whether it was there).
   */
  settle(shop: string, entries: readonly string[], ops: SettleOp[], opts: { deadMax: number; replayed?: string }): Promise<boolean>;
  /** Moves the shop in the index to `nextDue` (null: drops it), unless it was marked since `mark`. */
  reschedule(shop: string, mark: number, nextDue: number | null): Promise<void>;
  /** Marks a shop due now (a replay, a test). */
  markDue(shop: string): Promise<void>;
  /** The newest parked deliveries first. */
  deadLetters(shop: string, limit: number): Promise<DeadLetter[]>;
  deadLetter(shop: string, id: string): Promise<DeadLetter | null>;
}
