import { randomUUID } from 'node:crypto';
import { PeakError, type ErrorCode } from '../../protocol/errors.ts';
import type { EventFrom, EventKind } from '../../protocol/frames.ts';
import { transition } from '../../domain/lifecycle.ts';
import type {
  AgentPostResult,
  AgentView,
  BotLine,
  BotPostResult,
  Closed,
  ConnRef,
  Escalation,
  QueueStats,
  SharedConfig,
  Transferred,
  TransferOptions,
  CloseOptions,
  BuyerMessage,
  BuyerPostResult,
  Offer,
  PlanBucket,
  PlanRecord,
  PlanStatsOptions,
  PostResult,
  Requeued,
  SessionBounds,
  BuyerLimits,
  DueShop,
  ShopWork,
  SweepOptions,
  SessionView,
  Store,
  StoredEvent,
} from '../types.ts';
import { MemoryBus } from './memory-bus.ts';
import { rateOf } from '../rate.ts';
import { MemoryPlanStats } from './plan-stats.ts';
import { ACTIVE_HOLD_MS, MAX_DEFER_MS } from '../active.ts';
import { takeTokens } from '../limits.ts';
import { ShopState, agentView, rolesOf, sessionView, type SessionRec } from './shop-state.ts';

export interface MemoryStoreOptions {
  /** A session nobody wrote in yet is forgotten after this long. */
  idleSessionTtlMs?: number;
  /** See src/store/active.ts; shorter in tests. */
  activeHoldMs?: number;
  /** The clock for expiry (idle sessions, retention, blocks); method `now` arguments do the rest. */
  now?: () => number;
}

/** How far down a queue and an agent list dispatch looks past exclusions (as dispatch.lua). */
const SCAN = 20;
/** How often (by the clock) expired data is swept out of memory. */
const SWEEP_EVERY_MS = 60_000;
/** Due timers handled per sweep and shop (as RedisStore's). */
const DUE_BATCH = 500;

function fail(code: ErrorCode, message: string): never {
  throw new PeakError(code, message);
}

interface Appended extends Omit<BuyerPostResult, 'state'> {
  suppressed?: 'rate' | 'repeat' | 'full';
  replyMs?: number;
}

const NO_FLAGS = { enqueue: false, reclassify: false, perMinute: 0 };

/**
 * The Store in one process, for running a single gateway without Redis. It mirrors the Lua
 * scripts of src/store/redis/lua step by step (same checks, errors, publications). Method
 * bodies never await, so each runs atomically; they return Promises only to fit the contract.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly bus = new MemoryBus();
  private readonly shopStates = new Map<string, ShopState>();
  private readonly knownShops = new Set<string>();
  private readonly idleTtl: number;
  private readonly clock: () => number;
  private lastSweep: number;
  private sharedConfig: SharedConfig | undefined;
  private readonly instances = new Map<string, number>();
  private readonly instanceConns = new Map<string, Map<string, ConnRef>>();
  private readonly configWatchers: ((version: string) => void)[] = [];
  private readonly planStatsOf = new Map<string, MemoryPlanStats>();
  /** The index of active shops: shop → when next due (src/store/active.ts). */
  private readonly active = new Map<string, number>();
  private readonly activeHold: number;

  constructor(opts: MemoryStoreOptions = {}) {
    this.idleTtl = opts.idleSessionTtlMs ?? 24 * 3_600_000;
    this.clock = opts.now ?? Date.now;
    this.activeHold = opts.activeHoldMs ?? ACTIVE_HOLD_MS;
    this.lastSweep = this.clock();
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async shutdown(): Promise<void> {}

  private shop(shop: string): ShopState {
    const now = this.clock();
    if (now - this.lastSweep >= SWEEP_EVERY_MS) {
      this.lastSweep = now;
      for (const st of this.shopStates.values()) st.sweep();
      for (const ps of this.planStatsOf.values()) ps.sweep();
    }
    let st = this.shopStates.get(shop);
    if (!st) this.shopStates.set(shop, (st = new ShopState(this.clock)));
    return st;
  }

  /** A shop for a step that changes it: marked active (as every script call of RedisStore). */
  private mut(shop: string): ShopState {
    this.active.set(shop, this.clock());
    return this.shop(shop);
  }

  // ---- buyers ----

  async openSession(shop: string, buyerId: string, now: number) {
    this.knownShops.add(shop);
    const st = this.mut(shop);
    if (st.isBlocked(buyerId)) fail('blocked', 'you are blocked from chatting with this shop');
    const open = st.buyerSession(buyerId);
    const prev = open === undefined ? undefined : st.session(open);
    if (prev && prev.state !== 'closed') return { sessionId: prev.id, lastSeq: prev.seq, created: false };
    const s: SessionRec = {
      id: randomUUID(),
      buyer: buyerId,
      state: 'bot',
      role: '',
      arrived: 0,
      created: now,
      seq: 0,
      bytes: 0,
      excluded: new Map(),
      handovers: [],
      replyMisses: 0,
      events: [],
      msgIds: new Map(),
      botTimes: [],
    };
    // A session nobody wrote in yet expires by itself; the first buyer message makes it persist.
    st.sessions.set(s.id, s);
    st.expireSession(s, this.idleTtl);
    st.setBuyerSession(buyerId, s.id, this.idleTtl);
    return { sessionId: s.id, lastSeq: 0, created: true };
  }

  async postBuyerMessage(shop: string, sessionId: string, buyerId: string, msg: BuyerMessage): Promise<BuyerPostResult> {
    const flags = { enqueue: msg.enqueue, reclassify: msg.reclassify, perMinute: 0, bounds: msg.bounds, limits: msg.limits };
    const { suppressed: _s, ...out } = this.append(shop, sessionId, 'buyer', buyerId, msg.clientMsgId, msg.text, msg.ts, msg.role, flags);
    return { ...out, state: this.shop(shop).session(sessionId)!.state };
  }

  async postAgentMessage(shop: string, sessionId: string, agentId: string, msg: { clientMsgId: string; text: string; ts: number; bounds?: SessionBounds }): Promise<AgentPostResult> {
    const r = this.append(shop, sessionId, 'agent', agentId, msg.clientMsgId, msg.text, msg.ts, '', { ...NO_FLAGS, bounds: msg.bounds });
    return {
      seq: r.seq,
      duplicate: r.duplicate,
      role: this.shop(shop).session(sessionId)!.role,
      ...(r.firstResponseMs !== undefined ? { firstResponseMs: r.firstResponseMs } : {}),
      ...(r.replyMs !== undefined ? { replyMs: r.replyMs } : {}),
    };
  }

  async postBotMessage(shop: string, sessionId: string, msg: { text: string; ts: number; role?: string; perMinute: number; bounds?: SessionBounds }): Promise<BotPostResult> {
    const r = this.append(shop, sessionId, 'bot', '', '', msg.text, msg.ts, msg.role ?? '', { ...NO_FLAGS, perMinute: msg.perMinute, bounds: msg.bounds });
    if (r.suppressed) return { seq: 0, duplicate: false, suppressed: r.suppressed };
    return { seq: r.seq, duplicate: false, ...(r.firstResponseMs !== undefined ? { firstResponseMs: r.firstResponseMs } : {}) };
  }

  /** appendEvent.lua: stores one event and publishes it in the same step. */
  private append(
    shop: string,
    sid: string,
    from: EventFrom,
    actor: string,
    cmid: string,
    text: string,
    ts: number,
    role: string,
    flags: { enqueue: boolean; reclassify: boolean; perMinute: number; bounds?: SessionBounds | undefined; limits?: BuyerLimits | undefined },
  ): Appended {
    const st = this.mut(shop);
    const s = st.session(sid);
    if (!s || (from === 'buyer' && s.buyer !== actor)) fail('unknown_session', `no session ${sid}`);
    const state = s.state;
    // A resend is answered with the original seq even after the agent closed the chat; once
    // closed, the buyer's next message belongs to a new session.
    // Per sender (the buyer, or one agent by id); an agent's resend only while the chat is its own.
    const mfield = from === 'agent' ? `a:${actor}:${cmid}` : `${from[0]}:${cmid}`;
    if (cmid !== '' && state !== 'closed') {
      const prev = s.msgIds.get(mfield);
      if (prev !== undefined && (from !== 'agent' || state === 'closing' || (state === 'assigned' && s.agent === actor))) return { seq: prev, duplicate: true };
    }
    transition(`${from}Message`, sid, state, { agent: s.agent, actor });
    const b = flags.bounds;
    if (b && ((b.maxEvents > 0 && s.seq >= b.maxEvents) || (b.maxBytes > 0 && s.bytes + Buffer.byteLength(text) > b.maxBytes))) {
      if (from === 'bot') return { seq: 0, duplicate: false, suppressed: 'full' };
      fail('too_large', `this chat has reached its transcript limit (${b.maxEvents} events, ${b.maxBytes} bytes); nothing was stored`);
    }
    if (from === 'buyer' && flags.limits) this.takeBuyerTokens(st, actor, ts, flags.limits);
    if (from === 'bot') {
      if (s.botLast === text) return { seq: 0, duplicate: false, suppressed: 'repeat' };
      const recent = s.botTimes.filter((t) => t > ts - 60_000);
      if (recent.length >= flags.perMinute) return { seq: 0, duplicate: false, suppressed: 'rate' };
      recent.push(ts);
      s.botTimes = recent;
      s.botLast = text;
    }

    const ev: Omit<StoredEvent, 'seq'> = { from, text, ts };
    if (from === 'agent') ev.agentId = actor;
    if (from === 'bot' && role !== '') ev.role = role;
    const seq = this.pushEvent(shop, s, ev, state === 'assigned' ? s.agent : undefined);
    if (cmid !== '') s.msgIds.set(mfield, seq);

    const out: Appended = { seq, duplicate: false };
    if (from === 'buyer' && s.firstAt === undefined) s.firstAt = ts;
    else if (from !== 'buyer' && s.firstAt !== undefined && s.frAt === undefined) {
      s.frAt = ts;
      out.firstResponseMs = ts - s.firstAt;
    }
    // The idle clock runs from the buyer's last word; the reply clock from the first buyer
    // line the agent has not answered yet.
    if (from === 'buyer' && (state === 'assigned' || state === 'bot')) {
      st.idle.add(sid, ts);
      if (state === 'assigned' && !st.reply.has(sid)) st.reply.add(sid, ts);
    } else if (from === 'agent') {
      const since = st.reply.score(sid);
      if (since !== undefined) {
        st.reply.remove(sid);
        out.replyMs = ts - since;
      }
    }
    if (from === 'buyer' && state === 'bot' && flags.enqueue) {
      s.state = transition('enqueue', sid, state);
      s.role = role;
      s.arrived = ts;
      s.roles = [role];
      st.idle.remove(sid);
      const q = st.queue(role);
      q.add(sid, ts);
      st.markQueued(sid, ts);
      out.enqueued = { role, position: q.rank(sid)! + 1 };
    } else if (from === 'buyer' && state === 'queued' && role !== s.role && flags.reclassify) {
      // Moves to the role the buyer named, keeping its place in line.
      const fromRole = s.role;
      st.queue(fromRole).remove(sid);
      const q = st.queue(role);
      q.add(sid, s.prio ?? s.arrived);
      s.role = role;
      s.roles = [...(s.roles ?? [fromRole]), role];
      out.moved = { fromRole, toRole: role, position: q.rank(sid)! + 1 };
    }
    // An open session's data lives `lifeMs` past its last event (appendEvent.lua).
    if (s.state !== 'bot' && b && b.lifeMs > 0) {
      st.expireSession(s, b.lifeMs);
      st.setBuyerSession(s.buyer, sid, b.lifeMs);
    } else if (s.state !== 'bot') {
      st.expireSession(s, undefined);
      st.persistBuyerSession(s.buyer);
    }
    return out;
  }

  /**
   * The prelude's pushEvent: stores one event and publishes it in the same step. The buyer
   * hears everything but its own lines; `agent` (the holder, if any) everything but its own.
   */
  private pushEvent(shop: string, s: SessionRec, ev: Omit<StoredEvent, 'seq'>, agent: string | undefined): number {
    const seq = ++s.seq;
    s.events.push({ seq, ...ev });
    s.bytes += Buffer.byteLength(ev.text);
    const frame = JSON.stringify({
      type: 'message',
      sessionId: s.id,
      seq,
      from: ev.from,
      text: ev.text,
      ts: ev.ts,
      ...(ev.role ? { role: ev.role } : {}),
      ...(ev.kind ? { kind: ev.kind } : {}),
    });
    if (ev.from !== 'buyer') this.bus.deliver({ kind: 'buyer', shop, id: s.buyer }, frame);
    if (ev.from !== 'agent' && agent) this.bus.deliver({ kind: 'agent', shop, id: agent }, frame);
    return seq;
  }

  async rate(shop: string, sessionId: string, buyerId: string, score: number, comment: string | undefined, now: number) {
    const st = this.mut(shop);
    const s = st.session(sessionId);
    if (!s || s.buyer !== buyerId) fail('unknown_session', `no session ${sessionId}`);
    transition('rate', sessionId, s.state);
    if (s.rating !== undefined) fail('bad_state', `session ${sessionId} is already rated`);
    s.rating = score;
    s.ratingComment = comment ?? '';
    s.ratedAt = now;
    const a = st.agents.get(s.lastAgent!);
    if (a) {
      a.ratingSum += score;
      a.ratingCount += 1;
    }
  }

  // ---- agents ----

  async agentConnect(shop: string, agentId: string, connId: string, now: number, allowedRoles?: readonly string[]): Promise<AgentView> {
    this.knownShops.add(shop);
    const st = this.mut(shop);
    let a = st.agents.get(agentId);
    if (!a) {
      a = {
        id: agentId,
        status: 'away',
        want: 'away',
        rolesCsv: '',
        capacity: 0,
        load: 0,
        idle: now,
        ratingSum: 0,
        ratingCount: 0,
        replyMisses: 0,
        conns: new Set(),
        sessions: new Set(),
        offers: new Set(),
      };
      st.agents.set(agentId, a);
    } else if (a.status === 'offline') {
      // Back within (or after) grace: the agent did not choose to leave, so it gets its
      // previous readiness back along with whatever sessions it still holds.
      a.status = a.want;
      delete a.graceUntil;
      st.grace.remove(agentId);
      st.refreshAvail(agentId);
    }
    // agentConnect.lua: the token decides what the agent may serve, on every connect.
    if (allowedRoles) {
      const keep = rolesOf(a.rolesCsv).filter((r) => allowedRoles.includes(r));
      if (keep.length !== rolesOf(a.rolesCsv).length) {
        for (const role of rolesOf(a.rolesCsv)) if (!keep.includes(role)) st.avail.get(role)?.remove(agentId);
        a.rolesCsv = keep.join(',');
        if (keep.length === 0) a.status = a.want = 'away';
        st.refreshAvail(agentId);
      }
    }
    a.conns.add(connId);
    return agentView(shop, a);
  }

  async agentDisconnect(shop: string, agentId: string, connId: string, now: number, graceMs: number) {
    const st = this.mut(shop);
    const a = st.agents.get(agentId);
    a?.conns.delete(connId);
    if (!a || a.status === 'offline' || a.conns.size > 0) return { offline: false, requeued: [] };
    a.want = a.status;
    a.status = 'offline';
    st.refreshAvail(agentId);

    // Nobody is there to answer an offer, so it goes to the next agent now, not at its timeout.
    const requeued = st.requeueHeld(agentId, a.offers, 'offered', now);
    a.load -= requeued.length;

    let graceUntil = 0;
    if (a.sessions.size > 0) {
      graceUntil = now + graceMs;
      a.graceUntil = graceUntil;
      st.grace.add(agentId, graceUntil);
    }
    return { offline: true, ...(graceUntil ? { graceUntil } : {}), requeued };
  }

  async agentReady(shop: string, agentId: string, roles: string[], capacity: number, now: number) {
    this.agentStatus(shop, agentId, 'ready', roles.join(','), capacity, now);
  }

  async agentAway(shop: string, agentId: string, now: number) {
    this.agentStatus(shop, agentId, 'away', '', 0, now);
  }

  /** agentStatus.lua */
  private agentStatus(shop: string, agentId: string, status: 'ready' | 'away', rolesCsv: string, capacity: number, now: number): void {
    const st = this.mut(shop);
    const a = st.agents.get(agentId);
    if (!a) fail('bad_state', `agent ${agentId} is not connected`);
    if (status === 'ready') {
      const keep = new Set(rolesCsv.split(','));
      for (const role of a.rolesCsv.split(',')) {
        if (role && !keep.has(role)) st.avail.get(role)?.remove(agentId);
      }
      if (a.status !== 'ready') a.idle = now;
      a.rolesCsv = rolesCsv;
      a.capacity = capacity;
    }
    a.status = status;
    a.want = status;
    st.refreshAvail(agentId);
  }

  async accept(shop: string, sessionId: string, agentId: string, now: number) {
    const st = this.mut(shop);
    const s = st.session(sessionId);
    if (!s) fail('unknown_session', `no session ${sessionId}`);
    const note = s.note ? { note: s.note } : {};
    if (s.state === 'assigned' && s.agent === agentId) return { role: s.role, ...note, alreadyAssigned: true };
    const next = transition('accept', sessionId, s.state);
    if (s.agent !== agentId) fail('bad_state', `session ${sessionId} is not offered to you`);
    // Past its deadline the offer is dead even if no timer has re-queued it yet.
    if (s.offerExp! < now) fail('bad_state', `the offer of session ${sessionId} has expired`);
    s.state = next;
    s.lastAgent = agentId;
    delete s.offerExp;
    st.offers.remove(sessionId);
    st.queuedSince.remove(sessionId);
    const a = st.agents.get(agentId);
    if (a?.offers.delete(sessionId)) a.sessions.add(sessionId);
    // The agent owes the buyer a first word within the reply window; the idle clock starts too.
    st.idle.add(sessionId, now);
    st.reply.add(sessionId, now);
    st.assignTimes.set(s.role, [now, ...(st.assignTimes.get(s.role) ?? [])].slice(0, 50));
    return { role: s.role, ...note, alreadyAssigned: false };
  }

  async decline(shop: string, sessionId: string, agentId: string, now: number, excludeMs: number): Promise<Requeued> {
    const { sessionId: sid, buyerId, role } = this.releaseOffer(shop, sessionId, agentId, now, excludeMs)!;
    return { sessionId: sid, buyerId, role };
  }

  async expireOffer(shop: string, sessionId: string, now: number, excludeMs: number) {
    return this.releaseOffer(shop, sessionId, '', now, excludeMs);
  }

  /** releaseOffer.lua: decline (agentId given) or expiry (agentId '') of an offer. */
  private releaseOffer(shop: string, sid: string, agentId: string, now: number, excludeMs: number): (Requeued & { agentId: string }) | null {
    const st = this.mut(shop);
    const s = st.session(sid);
    if (agentId !== '') {
      if (!s) fail('unknown_session', `no session ${sid}`);
      transition('release', sid, s.state);
      if (s.agent !== agentId) fail('bad_state', `session ${sid} is not offered to you`);
    } else if (!s || s.state !== 'offered' || s.offerExp! > now) {
      return null;
    }
    const holder = s.agent!;
    st.requeue(s, now);
    st.agents.get(holder)?.offers.delete(sid);
    st.releaseLoad(holder, now, false);
    // The agent who let it go is skipped for a while so the session really reaches the next one.
    if (excludeMs > 0) s.excluded.set(holder, now + excludeMs);
    return { sessionId: sid, buyerId: s.buyer, role: s.role, agentId: holder };
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
    const st = this.mut(shop);
    const s = st.session(sessionId);
    if (!s) fail('unknown_session', `no session ${sessionId}`);
    const { state, agent: holder, role: fromRole } = s;
    if (opts.force) transition('forceTransfer', sessionId, state);
    else transition('transfer', sessionId, state, { agent: holder, actor: agentId });
    // Everyone the session meets next sees where it has been and why.
    s.handovers.push({ fromRole, toRole, agentId, ...(note ? { note } : {}), ts: now });
    s.roles = [...(s.roles ?? [fromRole]), toRole];
    if (note) s.note = note;
    else delete s.note;
    // Ahead of fresh arrivals: it keeps its arrival time, less the boost for having waited once.
    s.prio = Math.min(s.prio ?? s.arrived, s.arrived - opts.boostMs);
    st.detach(s, now);
    s.role = toRole;
    st.requeue(s, now);
    if (state === 'assigned' && opts.excludeMs > 0) s.excluded.set(holder!, now + opts.excludeMs);
    // The buyer hears of the handover before the bot's line about it.
    this.bus.deliver({ kind: 'buyer', shop, id: s.buyer }, JSON.stringify({ type: 'handover', sessionId, fromRole, toRole }));
    if (state === 'assigned') {
      this.bus.deliver({ kind: 'agent', shop, id: holder! }, JSON.stringify({ type: 'session_closed', sessionId, reason: 'transferred' }));
    } else if (state === 'offered') {
      this.bus.deliver({ kind: 'agent', shop, id: holder! }, JSON.stringify({ type: 'revoked', sessionId, reason: 'transferred' }));
    }
    if (opts.line) this.pushEvent(shop, s, { from: 'bot', text: opts.line, ts: now, role: toRole, kind: 'handover' }, undefined);
    const previous = state === 'assigned' || state === 'offered' ? { previousAgentId: holder! } : {};
    return { fromRole, buyerId: s.buyer, position: st.queue(toRole).rank(sessionId)! + 1, ...previous };
  }

  async close(shop: string, sessionId: string, agentId: string, reason: string, now: number, opts: CloseOptions) {
    return this.closeSession(shop, sessionId, 'close', agentId, reason, now, { ...opts, line: opts.invite })!;
  }

  async endSession(shop: string, sessionId: string, reason: string, now: number, opts: { retentionMs: number; line?: BotLine }) {
    return this.closeSession(shop, sessionId, 'end', '', reason, now, { retentionMs: opts.retentionMs, line: opts.line?.text, lineKind: opts.line?.kind })!;
  }

  async idleClose(shop: string, sessionId: string, now: number, silentSince: number, opts: { retentionMs: number; line: BotLine }) {
    return this.closeSession(shop, sessionId, 'end', '', 'idle', now, {
      retentionMs: opts.retentionMs,
      line: opts.line.text,
      lineKind: opts.line.kind,
      idleBefore: silentSince,
    });
  }

  async block(shop: string, sessionId: string, agentId: string, reason: string, now: number, blockMs: number, retentionMs: number) {
    const { buyerId } = this.closeSession(shop, sessionId, 'block', agentId, reason, now, { retentionMs, blockMs })!;
    return { buyerId };
  }

  /** close.lua: the agent's close (maybe into the rating window), a block, or the system's end. */
  private closeSession(
    shop: string,
    sid: string,
    mode: 'close' | 'block' | 'end',
    agentId: string,
    reason: string,
    now: number,
    o: {
      retentionMs: number;
      blockMs?: number;
      rateWindowMs?: number;
      line?: string | undefined;
      lineKind?: EventKind | undefined;
      goodbye?: string;
      idleBefore?: number;
      queuedBefore?: number;
    },
  ): Closed | null {
    const st = this.mut(shop);
    const s = st.session(sid);
    if (o.queuedBefore !== undefined) {
      if (s?.state !== 'queued') {
        st.queuedSince.remove(sid);
        return null;
      }
      const since = st.queuedSince.score(sid);
      if (since === undefined || since > o.queuedBefore) return null;
    }
    if (o.idleBefore !== undefined) {
      if (!s || (s.state !== 'bot' && s.state !== 'assigned')) {
        st.idle.remove(sid);
        return null;
      }
      const since = st.idle.score(sid);
      if (since === undefined || since > o.idleBefore) return null;
    }
    if (!s) fail('unknown_session', `no session ${sid}`);
    const state = s.state;
    const holder = s.agent;
    let next = transition(mode, sid, state, { agent: holder, actor: agentId });
    if (mode === 'close' && !(o.rateWindowMs! > 0)) next = 'closed';
    if (mode === 'end' && o.line) {
      this.pushEvent(shop, s, { from: 'bot', text: o.line, ts: now, ...(o.lineKind ? { kind: o.lineKind } : {}) }, state === 'assigned' ? holder : undefined);
    }
    st.detach(s, now);
    if (next === 'closing') {
      s.state = 'closing';
      s.closingUntil = now + o.rateWindowMs!;
      s.closeReason = reason;
      st.closing.add(sid, s.closingUntil);
      this.pushEvent(shop, s, { from: 'bot', text: o.line ?? '', ts: now, kind: 'rating_invite' }, undefined);
    } else {
      if (mode === 'close' && o.goodbye) this.pushEvent(shop, s, { from: 'bot', text: o.goodbye, ts: now, kind: 'goodbye' }, undefined);
      st.finalClose(s, reason, now, o.retentionMs);
      if (mode === 'block') st.block(s.buyer, reason, o.blockMs!);
    }
    return { buyerId: s.buyer, ...(holder ? { agentId: holder } : {}), state: next as 'closing' | 'closed', role: s.role };
  }

  async finishClosing(shop: string, sessionId: string, now: number, opts: { retentionMs: number; goodbye: string; onlyDue: boolean }) {
    const st = this.mut(shop);
    const s = st.session(sessionId);
    if (opts.onlyDue && (s?.state !== 'closing' || s.closingUntil! > now)) {
      if (s?.state !== 'closing') st.closing.remove(sessionId);
      return null;
    }
    if (!s) fail('unknown_session', `no session ${sessionId}`);
    transition('finish', sessionId, s.state);
    if (opts.goodbye) this.pushEvent(shop, s, { from: 'bot', text: opts.goodbye, ts: now, kind: 'goodbye' }, undefined);
    const reason = s.closeReason ?? 'agent_closed';
    st.finalClose(s, reason, now, opts.retentionMs);
    return { buyerId: s.buyer, reason };
  }

  async replyMiss(shop: string, sessionId: string, now: number, cutoff: number, opts: { escalate: Escalation; excludeMs: number }) {
    const st = this.mut(shop);
    const since = st.reply.score(sessionId);
    if (since === undefined || since > cutoff) return null;
    st.reply.remove(sessionId);
    const s = st.session(sessionId);
    if (s?.state !== 'assigned') return null;
    const agentId = s.agent!;
    const a = st.agents.get(agentId);
    if (a) a.replyMisses += 1;
    s.replyMisses += 1;
    let requeued = false;
    if (opts.escalate === 'reoffer') {
      transition('requeue', sessionId, s.state);
      st.requeue(s, now);
      a?.sessions.delete(sessionId);
      st.releaseLoad(agentId, now, true);
      if (opts.excludeMs > 0) s.excluded.set(agentId, now + opts.excludeMs);
      this.bus.deliver({ kind: 'agent', shop, id: agentId }, JSON.stringify({ type: 'session_closed', sessionId, reason: 'reply_timeout' }));
      requeued = true;
    } else if (opts.escalate === 'alert') {
      this.bus.deliver({ kind: 'agent', shop, id: agentId }, JSON.stringify({ type: 'reply_overdue', sessionId, waitingSince: since }));
    }
    return { agentId, buyerId: s.buyer, role: s.role, waitingSince: since, requeued };
  }

  async expireQueued(shop: string, sessionId: string, now: number, queuedBefore: number, opts: { retentionMs: number; line: BotLine }) {
    return this.closeSession(shop, sessionId, 'end', '', 'queue_timeout', now, {
      retentionMs: opts.retentionMs,
      line: opts.line.text,
      lineKind: opts.line.kind,
      queuedBefore,
    });
  }

  async limitBuyer(shop: string, buyerId: string, now: number, limits: BuyerLimits): Promise<void> {
    this.takeBuyerTokens(this.mut(shop), buyerId, now, limits);
  }

  /** The prelude's limitBuyer. */
  private takeBuyerTokens(st: ShopState, buyerId: string, now: number, limits: BuyerLimits): void {
    const bucket = (key: string, l: { perSecond: number; burst: number }) => ({
      get: () => st.buckets.get(key),
      set: (b: { tokens: number; at: number }) => st.buckets.set(key, b),
      rate: l.perSecond,
      burst: l.burst,
    });
    if (!takeTokens([bucket(`b:${buyerId}`, limits.buyer), bucket('', limits.shop)], now)) {
      fail('rate_limited', 'too many messages from this buyer or shop; slow down');
    }
  }

  async expireGrace(shop: string, agentId: string, now: number): Promise<Requeued[]> {
    const st = this.mut(shop);
    const a = st.agents.get(agentId);
    if (a?.status !== 'offline') {
      st.grace.remove(agentId);
      return [];
    }
    if (a.graceUntil !== undefined && a.graceUntil > now) return [];
    const requeued = st.requeueHeld(agentId, a.sessions, 'assigned', now);
    a.load = a.offers.size;
    delete a.graceUntil;
    st.grace.remove(agentId);
    return requeued;
  }

  // ---- routing ----

  /** dispatch.lua: pairs the oldest waiting sessions of one role with the best available agents. */
  async dispatch(shop: string, role: string, now: number, offerTimeoutMs: number, max: number): Promise<Offer[]> {
    const st = this.mut(shop);
    const out: Offer[] = [];
    const eligible = (s: SessionRec, aid: string) => {
      const until = s.excluded.get(aid);
      return until === undefined || until <= now;
    };
    while (out.length < max) {
      const agents = st.avail.get(role)?.first(SCAN) ?? [];
      if (agents.length === 0) break;
      const queue = st.queues.get(role);
      const sessions = queue?.first(SCAN) ?? [];
      if (!queue || sessions.length === 0) break;
      let matched = false;
      let pruned = false;
      for (const sid of sessions) {
        const s = st.session(sid);
        if (!s || !('queued' === s.state) || s.role !== role) {
          // A leftover entry (closed or moved meanwhile) must not block the queue.
          queue.remove(sid);
          pruned = true;
          continue;
        }
        const aid = agents.find((id) => eligible(s, id));
        if (aid === undefined) continue;
        const expiresAt = now + offerTimeoutMs;
        queue.remove(sid);
        s.state = 'offered';
        s.agent = aid;
        s.offerExp = expiresAt;
        st.offers.add(sid, expiresAt);
        const a = st.agents.get(aid)!;
        a.offers.add(sid);
        a.load += 1;
        st.refreshAvail(aid);
        out.push({ sessionId: sid, agentId: aid, role, expiresAt });
        matched = true;
        break;
      }
      if (!matched && !pruned) break;
    }
    return out;
  }

  // ---- ops ----

  async listAgents(shop: string): Promise<AgentView[]> {
    return [...this.shop(shop).agents.values()].map((a) => agentView(shop, a));
  }

  async queueStats(shop: string, role: string): Promise<QueueStats> {
    const st = this.shop(shop);
    const head = st.queues.get(role)?.first(1)[0];
    return { depth: st.queues.get(role)?.size ?? 0, oldestArrivedAt: head === undefined ? null : (st.session(head)?.arrived ?? null) };
  }

  /** Its data lives and dies with this process. */
  async checkEpoch(): Promise<boolean> {
    return false;
  }

  // ---- instances (one process: only this one, which never finds itself dead) ----

  async heartbeat(instanceId: string, now: number): Promise<void> {
    this.instances.set(instanceId, now);
  }

  async staleInstances(before: number): Promise<string[]> {
    return [...this.instances].filter(([, at]) => at < before).map(([id]) => id);
  }

  async claimInstance(instanceId: string): Promise<ConnRef[] | null> {
    if (!this.instances.delete(instanceId)) return null;
    const conns = [...(this.instanceConns.get(instanceId)?.values() ?? [])];
    this.instanceConns.delete(instanceId);
    return conns;
  }

  async trackConn(instanceId: string, ref: ConnRef): Promise<void> {
    let conns = this.instanceConns.get(instanceId);
    if (!conns) this.instanceConns.set(instanceId, (conns = new Map()));
    conns.set(`${ref.kind}\u0000${ref.shop}\u0000${ref.id}\u0000${ref.connId}`, { ...ref });
  }

  async untrackConn(instanceId: string, ref: ConnRef): Promise<void> {
    this.instanceConns.get(instanceId)?.delete(`${ref.kind}\u0000${ref.shop}\u0000${ref.id}\u0000${ref.connId}`);
  }

  /** buyerConnect.lua */
  async buyerConnect(shop: string, buyerId: string, connId: string, max: number): Promise<void> {
    const st = this.mut(shop);
    let conns = st.buyerConns.get(buyerId);
    if (!conns) st.buyerConns.set(buyerId, (conns = new Set()));
    if (conns.has(connId)) return;
    if (conns.size >= max) fail('rate_limited', `too many connections for this buyer (at most ${max})`);
    conns.add(connId);
  }

  async buyerDisconnect(shop: string, buyerId: string, connId: string): Promise<void> {
    const conns = this.shop(shop).buyerConns.get(buyerId);
    conns?.delete(connId);
    if (conns?.size === 0) this.shop(shop).buyerConns.delete(buyerId);
  }

  // ---- shared config (one process: nobody else to tell) ----

  async getSharedConfig(): Promise<SharedConfig | null> {
    return this.sharedConfig ? { ...this.sharedConfig } : null;
  }

  async publishSharedConfig(c: SharedConfig): Promise<void> {
    this.sharedConfig = { ...c };
    for (const fn of this.configWatchers) queueMicrotask(() => fn(c.version));
  }

  async watchSharedConfig(onVersion: (version: string) => void): Promise<void> {
    this.configWatchers.push(onVersion);
  }

  // ---- reads ----

  async getSession(shop: string, sessionId: string): Promise<SessionView | null> {
    const s = this.shop(shop).session(sessionId);
    return s ? sessionView(shop, s) : null;
  }

  async getAgent(shop: string, agentId: string): Promise<AgentView | null> {
    const a = this.shop(shop).agents.get(agentId);
    return a ? agentView(shop, a) : null;
  }

  async readEvents(shop: string, sessionId: string, afterSeq: number): Promise<StoredEvent[]> {
    const events = this.shop(shop).session(sessionId)?.events ?? [];
    return events.filter((e) => e.seq > afterSeq).map((e) => ({ ...e }));
  }

  async lastEvents(shop: string, sessionId: string, count: number): Promise<StoredEvent[]> {
    if (count <= 0) return [];
    const events = this.shop(shop).session(sessionId)?.events ?? [];
    return events.slice(-count).map((e) => ({ ...e }));
  }

  async queuePosition(shop: string, role: string, sessionId: string): Promise<number | null> {
    const rank = this.shop(shop).queues.get(role)?.rank(sessionId) ?? null;
    return rank === null ? null : rank + 1;
  }

  async queueLength(shop: string, role: string): Promise<number> {
    return this.shop(shop).queues.get(role)?.size ?? 0;
  }

  // ---- sweeping ----

  async assignmentRate(shop: string, role: string, now: number): Promise<number | null> {
    return rateOf(this.shop(shop).assignTimes.get(role) ?? [], now);
  }

  async shops(): Promise<string[]> {
    return [...this.knownShops];
  }

  async dueShops(now: number, limit: number): Promise<DueShop[]> {
    return [...this.active]
      .filter(([, at]) => at <= now)
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([shop, mark]) => ({ shop, mark }));
  }

  async activeShops(): Promise<string[]> {
    return [...this.active.keys()];
  }

  /** sweepShop.lua and reschedule.lua. */
  async sweepShop(shop: string, mark: number, now: number, o: SweepOptions): Promise<ShopWork> {
    const st = this.shop(shop);
    const batch = (xs: string[]) => xs.slice(0, DUE_BATCH);
    const queued = o.roles.reduce((n, role) => n + (st.queues.get(role)?.size ?? 0), 0);
    let nextDue: number | undefined;
    const soonest = (set: { first(n: number): string[]; score(m: string): number | undefined }, after: number) => {
      const head = set.first(1)[0];
      if (after < 0 || head === undefined) return;
      const t = set.score(head)! + after;
      if (nextDue === undefined || t < nextDue) nextDue = t;
    };
    soonest(st.offers, 0);
    soonest(st.grace, 0);
    soonest(st.closing, 0);
    soonest(st.idle, o.silentSince !== null ? o.idleCloseMs : -1);
    soonest(st.reply, o.replyWindowMs);
    soonest(st.queuedSince, o.queuedBefore !== null ? o.maxQueuedMs : -1);
    if (queued > 0 && (nextDue === undefined || now < nextDue)) nextDue = now;
    const work: ShopWork = {
      offers: batch(st.offers.upTo(now)),
      grace: batch(st.grace.upTo(now)),
      closing: batch(st.closing.upTo(now)),
      idle: o.silentSince === null ? [] : batch(st.idle.upTo(o.silentSince)),
      replies: batch(st.reply.upTo(o.replyCutoff)),
      queueExpired: o.queuedBefore === null ? [] : batch(st.queuedSince.upTo(o.queuedBefore)),
      queued,
    };
    if (mark < this.clock() - this.activeHold && this.active.get(shop) === mark) {
      if (nextDue === undefined) this.active.delete(shop);
      else this.active.set(shop, Math.min(nextDue, now + MAX_DEFER_MS));
    }
    return work;
  }

  async reindexShops(now: number, opts: { onlyIfEmpty?: boolean } = {}): Promise<number> {
    if (opts.onlyIfEmpty && this.active.size > 0) return 0;
    for (const shop of this.knownShops) if (!this.active.has(shop)) this.active.set(shop, now);
    return this.knownShops.size;
  }

  async dueOffers(shop: string, now: number): Promise<string[]> {
    return this.shop(shop).offers.upTo(now);
  }

  async dueGrace(shop: string, now: number): Promise<string[]> {
    return this.shop(shop).grace.upTo(now);
  }

  async dueClosing(shop: string, now: number): Promise<string[]> {
    return this.shop(shop).closing.upTo(now);
  }

  async dueIdle(shop: string, silentSince: number): Promise<string[]> {
    return this.shop(shop).idle.upTo(silentSince);
  }

  async dueReplies(shop: string, cutoff: number): Promise<string[]> {
    return this.shop(shop).reply.upTo(cutoff);
  }

  // ---- staffing-plan stats ----

  private plan(shop: string): MemoryPlanStats {
    let ps = this.planStatsOf.get(shop);
    if (!ps) this.planStatsOf.set(shop, (ps = new MemoryPlanStats(this.clock)));
    return ps;
  }

  async recordPlanStats(shop: string, role: string, at: number, rec: PlanRecord, opts: PlanStatsOptions): Promise<void> {
    const st = this.shop(shop);
    this.plan(shop).record(role, at, rec, opts, (id) => {
      const a = st.agents.get(id);
      return a && { sessions: a.sessions.size, capacity: a.capacity };
    });
  }

  async planStats(shop: string, from: number, to: number, bucketMs: number): Promise<PlanBucket[]> {
    return this.plan(shop).read(from, to, bucketMs);
  }
}
