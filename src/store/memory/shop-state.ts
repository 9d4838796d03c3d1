import { transition } from '../../domain/lifecycle.ts';
import type { AgentStatus, AgentView, Handover, Requeued, SessionState, SessionView, StoredEvent } from '../types.ts';
import { SortedSet } from './sorted-set.ts';
import type { Bucket } from '../limits.ts';

/**
 * The data of one shop, shaped like the Redis keys of src/store/redis/keys.ts, plus the
 * shared steps of lua/_prelude.lua (refreshAvail, releaseLoad, requeue). Every method is
 * synchronous; MemoryStore composes them into atomic operations.
 */

/** s:<sid>, t:<sid> and m:<sid> together: they are written and expire together. */
export interface SessionRec {
  id: string;
  buyer: string;
  state: SessionState;
  role: string;
  arrived: number;
  /** Queue score when it differs from `arrived` (a transfer's boost). */
  prio?: number;
  created: number;
  seq: number;
  /** Transcript size in bytes of text (the `bytes` field). */
  bytes: number;
  agent?: string;
  offerExp?: number;
  lastAgent?: string;
  /** Roles visited; unset until the first buyer message queues the session. */
  roles?: string[];
  handovers: Handover[];
  note?: string;
  closingUntil?: number;
  /** The reason `closed` will carry once the rating window ends. */
  closeReason?: string;
  replyMisses: number;
  closedReason?: string;
  closedAt?: number;
  rating?: number;
  ratingComment?: string;
  ratedAt?: number;
  /** The `x:<agentId>` fields: agent → time until which it is skipped for this session. */
  excluded: Map<string, number>;
  events: StoredEvent[];
  /** `<first letter of sender kind>:<clientMsgId>` → seq. */
  msgIds: Map<string, number>;
  /** Times of bot lines in the last minute, and the last bot text (anti-harassment). */
  botTimes: number[];
  botLast?: string;
  /** The buyer's first message, and the first bot/agent line after it. */
  firstAt?: number;
  frAt?: number;
  /** Clock time at which the session's data is forgotten; unset = kept. */
  expiresAt?: number;
}

export interface AgentRec {
  id: string;
  status: AgentStatus;
  /** The status to return to when coming back from `offline`. */
  want: AgentStatus;
  rolesCsv: string;
  capacity: number;
  load: number;
  /** When the agent last became free of work (ranks "longest idle"). */
  idle: number;
  graceUntil?: number;
  ratingSum: number;
  ratingCount: number;
  replyMisses: number;
  conns: Set<string>;
  sessions: Set<string>;
  offers: Set<string>;
}

interface Expiring {
  value: string;
  expiresAt?: number;
}

/** Scores order candidates by load first, then by idle time (as in the prelude). */
const LOAD_WEIGHT = 1e13;

/** The roles of a CSV list, skipping empty parts (Lua's gmatch '[^,]+'). */
export function rolesOf(csv: string): string[] {
  return csv.split(',').filter((r) => r !== '');
}

function expired(entry: { expiresAt?: number }, now: number): boolean {
  return entry.expiresAt !== undefined && now >= entry.expiresAt;
}

export class ShopState {
  readonly sessions = new Map<string, SessionRec>();
  /** bs:<buyer>: the buyer's open session. */
  private readonly buyerSessions = new Map<string, Expiring>();
  /** blk:<buyer>: the block reason. */
  private readonly blocks = new Map<string, Expiring>();
  readonly agents = new Map<string, AgentRec>();
  /** q:<role>: waiting sessions by arrival time. */
  readonly queues = new Map<string, SortedSet>();
  /** av:<role>: ready agents with free capacity, by load then idle time. */
  readonly avail = new Map<string, SortedSet>();
  /** Offered sessions by offer expiry. */
  readonly offers = new SortedSet();
  /** rate:<role>: times of the role's last 50 assignments, newest first. */
  readonly assignTimes = new Map<string, number[]>();
  /** bc:<buyer>: the buyer's live connection ids. */
  readonly buyerConns = new Map<string, Set<string>>();
  /** Offline agents by end of grace period. */
  readonly grace = new SortedSet();
  /** Sessions in their rating window, by its end. */
  readonly closing = new SortedSet();
  /** `bot`/`assigned` sessions by the buyer's last message (or assignment). */
  readonly idle = new SortedSet();
  /** Assigned sessions whose buyer awaits the agent, by when that began. */
  readonly reply = new SortedSet();
  /** qt: sessions waiting without an agent, by since when. */
  readonly queuedSince = new SortedSet();
  /** rl (key '') and rl:<buyer>: token buckets of buyer lines. */
  readonly buckets = new Map<string, Bucket>();

  constructor(private readonly clock: () => number) {}

  // ---- expiring entries ----

  session(sid: string): SessionRec | undefined {
    const s = this.sessions.get(sid);
    if (s && expired(s, this.clock())) {
      this.sessions.delete(sid);
      return undefined;
    }
    return s;
  }

  /** Sets or clears (ttlMs undefined) the expiry of a session's data. */
  expireSession(s: SessionRec, ttlMs: number | undefined): void {
    if (ttlMs === undefined) delete s.expiresAt;
    else s.expiresAt = this.clock() + ttlMs;
  }

  buyerSession(buyer: string): string | undefined {
    return this.live(this.buyerSessions, buyer)?.value;
  }

  setBuyerSession(buyer: string, sid: string, ttlMs: number): void {
    this.buyerSessions.set(buyer, { value: sid, expiresAt: this.clock() + ttlMs });
  }

  persistBuyerSession(buyer: string): void {
    const entry = this.live(this.buyerSessions, buyer);
    if (entry) delete entry.expiresAt;
  }

  dropBuyerSession(buyer: string): void {
    this.buyerSessions.delete(buyer);
  }

  isBlocked(buyer: string): boolean {
    return this.live(this.blocks, buyer) !== undefined;
  }

  block(buyer: string, reason: string, ms: number): void {
    this.blocks.set(buyer, { value: reason, expiresAt: this.clock() + ms });
  }

  /** Forgets everything that has expired (lookups do it lazily too; this bounds memory). */
  sweep(): void {
    const now = this.clock();
    for (const [sid, s] of this.sessions) if (expired(s, now)) this.sessions.delete(sid);
    for (const map of [this.buyerSessions, this.blocks]) {
      for (const [k, e] of map) if (expired(e, now)) map.delete(k);
    }
    // A bucket untouched this long is full again: the same as none (Redis expires them).
    for (const [k, b] of this.buckets) if (now - b.at > 600_000) this.buckets.delete(k);
  }

  private live(map: Map<string, Expiring>, key: string): Expiring | undefined {
    const e = map.get(key);
    if (e && expired(e, this.clock())) {
      map.delete(key);
      return undefined;
    }
    return e;
  }

  // ---- sorted sets ----

  queue(role: string): SortedSet {
    let q = this.queues.get(role);
    if (!q) this.queues.set(role, (q = new SortedSet()));
    return q;
  }

  private availOf(role: string): SortedSet {
    let av = this.avail.get(role);
    if (!av) this.avail.set(role, (av = new SortedSet()));
    return av;
  }

  // ---- the prelude ----

  /** An agent is offered work in its roles while it is ready and below capacity. */
  refreshAvail(aid: string): void {
    const a = this.agents.get(aid);
    if (!a) return;
    const open = a.status === 'ready' && a.load < a.capacity;
    const score = a.load * LOAD_WEIGHT + a.idle;
    for (const role of rolesOf(a.rolesCsv)) {
      if (open) this.availOf(role).add(aid, score);
      else this.avail.get(role)?.remove(aid);
    }
  }

  /** Frees one unit of load; ending real work (not an unanswered offer) restarts the idle clock. */
  releaseLoad(aid: string, now: number, endsWork: boolean): void {
    const a = this.agents.get(aid);
    if (!a) return;
    a.load = Math.max(0, a.load - 1);
    if (endsWork) a.idle = now;
    this.refreshAvail(aid);
  }

  /** The clocks that only run while an agent has the chat (idle close, reply window). */
  stopChatClocks(sid: string): void {
    this.idle.remove(sid);
    this.reply.remove(sid);
  }

  /** Since when a session has waited without an agent: kept while offers come back, restarted after an agent had it. */
  markQueued(sid: string, now: number): void {
    if (!this.queuedSince.has(sid)) this.queuedSince.add(sid, now);
  }

  /** Back into its role's queue at its priority (arrival less any transfer boost), ahead of later arrivals. */
  requeue(s: SessionRec, now: number): void {
    s.state = 'queued';
    delete s.agent;
    delete s.offerExp;
    this.offers.remove(s.id);
    this.queue(s.role).add(s.id, s.prio ?? s.arrived);
    this.markQueued(s.id, now);
    this.stopChatClocks(s.id);
  }

  /** Takes a session away from whoever holds or awaits it (queue, offer, agent). */
  detach(s: SessionRec, now: number): void {
    const holder = s.agent;
    if (s.state === 'queued') {
      this.queues.get(s.role)?.remove(s.id);
    } else if (s.state === 'offered') {
      this.offers.remove(s.id);
      this.agents.get(holder!)?.offers.delete(s.id);
      this.releaseLoad(holder!, now, false);
    } else if (s.state === 'assigned') {
      this.agents.get(holder!)?.sessions.delete(s.id);
      this.releaseLoad(holder!, now, true);
    }
    delete s.agent;
    delete s.offerExp;
    this.stopChatClocks(s.id);
  }

  /** The last step of every ending: closed, readable for `retentionMs`, then gone. */
  finalClose(s: SessionRec, reason: string, now: number, retentionMs: number): void {
    s.state = 'closed';
    s.closedReason = reason;
    s.closedAt = now;
    delete s.closingUntil;
    this.closing.remove(s.id);
    this.queuedSince.remove(s.id);
    if (this.buyerSession(s.buyer) === s.id) this.dropBuyerSession(s.buyer);
    this.expireSession(s, retentionMs);
  }

  /**
   * Re-queues the sessions in `held` (an agent's offers or sessions) that are still in
   * `state` with `agentId`, and empties `held` (prelude's requeueHeld).
   */
  requeueHeld(agentId: string, held: Set<string>, state: 'offered' | 'assigned', now: number): Requeued[] {
    const requeued: Requeued[] = [];
    for (const sid of held) {
      const s = this.session(sid);
      if (s?.state === state && s.agent === agentId) {
        transition('requeue', sid, s.state);
        this.requeue(s, now);
        requeued.push({ sessionId: sid, buyerId: s.buyer, role: s.role });
      }
    }
    held.clear();
    return requeued;
  }
}

// ---- views (shaped like RedisStore's reads: optional fields only when set) ----

export function sessionView(shop: string, s: SessionRec): SessionView {
  const view: SessionView = {
    id: s.id,
    shop,
    buyerId: s.buyer,
    state: s.state,
    role: s.role,
    arrivedAt: s.arrived,
    createdAt: s.created,
    lastSeq: s.seq,
    roleHistory: [...(s.roles ?? [])],
    handovers: s.handovers.map((h) => ({ ...h })),
    replyMisses: s.replyMisses,
  };
  if (s.agent) view.agentId = s.agent;
  if (s.offerExp !== undefined) view.offerExpiresAt = s.offerExp;
  if (s.lastAgent) view.lastAgentId = s.lastAgent;
  if (s.note) view.note = s.note;
  if (s.closingUntil !== undefined) view.closingUntil = s.closingUntil;
  if (s.closedReason) view.closedReason = s.closedReason;
  if (s.closedAt !== undefined) view.closedAt = s.closedAt;
  if (s.rating !== undefined) view.rating = s.rating;
  if (s.ratingComment) view.ratingComment = s.ratingComment;
  return view;
}

export function agentView(shop: string, a: AgentRec): AgentView {
  return {
    id: a.id,
    shop,
    status: a.status,
    roles: a.rolesCsv ? a.rolesCsv.split(',') : [],
    capacity: a.capacity,
    load: a.load,
    sessions: [...a.sessions],
    offers: [...a.offers],
    ratingSum: a.ratingSum,
    ratingCount: a.ratingCount,
    replyMisses: a.replyMisses,
  };
}
