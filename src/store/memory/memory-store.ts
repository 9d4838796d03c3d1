import { randomUUID } from 'node:crypto';
import { PeakError, type ErrorCode } from '../../protocol/errors.ts';
import type { EventFrom } from '../../protocol/frames.ts';
import type {
  AgentView,
  BotPostResult,
  BuyerMessage,
  BuyerPostResult,
  Offer,
  PostResult,
  Requeued,
  SessionView,
  Store,
  StoredEvent,
} from '../types.ts';
import { MemoryBus } from './memory-bus.ts';
import { rateOf } from '../rate.ts';
import { ShopState, agentView, sessionView, type SessionRec } from './shop-state.ts';

export interface MemoryStoreOptions {
  /** A session nobody wrote in yet is forgotten after this long. */
  idleSessionTtlMs?: number;
  /** The clock for expiry (idle sessions, retention, blocks); method `now` arguments do the rest. */
  now?: () => number;
}

/** How far down a queue and an agent list dispatch looks past exclusions (as dispatch.lua). */
const SCAN = 20;
/** How often (by the clock) expired data is swept out of memory. */
const SWEEP_EVERY_MS = 60_000;

function fail(code: ErrorCode, message: string): never {
  throw new PeakError(code, message);
}

interface Appended extends Omit<BuyerPostResult, 'state'> {
  suppressed?: 'rate' | 'repeat';
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

  constructor(opts: MemoryStoreOptions = {}) {
    this.idleTtl = opts.idleSessionTtlMs ?? 24 * 3_600_000;
    this.clock = opts.now ?? Date.now;
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
    }
    let st = this.shopStates.get(shop);
    if (!st) this.shopStates.set(shop, (st = new ShopState(this.clock)));
    return st;
  }

  // ---- buyers ----

  async openSession(shop: string, buyerId: string, now: number) {
    this.knownShops.add(shop);
    const st = this.shop(shop);
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
      excluded: new Map(),
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
    const flags = { enqueue: msg.enqueue, reclassify: msg.reclassify, perMinute: 0 };
    const { suppressed: _s, ...out } = this.append(shop, sessionId, 'buyer', buyerId, msg.clientMsgId, msg.text, msg.ts, msg.role, flags);
    return { ...out, state: this.shop(shop).session(sessionId)!.state };
  }

  async postAgentMessage(shop: string, sessionId: string, agentId: string, msg: { clientMsgId: string; text: string; ts: number }): Promise<PostResult> {
    const r = this.append(shop, sessionId, 'agent', agentId, msg.clientMsgId, msg.text, msg.ts, '', NO_FLAGS);
    return { seq: r.seq, duplicate: r.duplicate, ...(r.firstResponseMs !== undefined ? { firstResponseMs: r.firstResponseMs } : {}) };
  }

  async postBotMessage(shop: string, sessionId: string, msg: { text: string; ts: number; role?: string; perMinute: number }): Promise<BotPostResult> {
    const r = this.append(shop, sessionId, 'bot', '', '', msg.text, msg.ts, msg.role ?? '', { ...NO_FLAGS, perMinute: msg.perMinute });
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
    flags: { enqueue: boolean; reclassify: boolean; perMinute: number },
  ): Appended {
    const st = this.shop(shop);
    const s = st.session(sid);
    if (!s || (from === 'buyer' && s.buyer !== actor)) fail('unknown_session', `no session ${sid}`);
    const state = s.state;
    if (state === 'closed') fail('bad_state', `session ${sid} is closed`);
    if (from === 'agent' && (state !== 'assigned' || s.agent !== actor)) {
      fail('not_assigned', `session ${sid} is not assigned to you`);
    }
    const mfield = `${from[0]}:${cmid}`;
    if (cmid !== '') {
      const prev = s.msgIds.get(mfield);
      if (prev !== undefined) return { seq: prev, duplicate: true };
    }
    if (from === 'bot') {
      if (s.botLast === text) return { seq: 0, duplicate: false, suppressed: 'repeat' };
      const recent = s.botTimes.filter((t) => t > ts - 60_000);
      if (recent.length >= flags.perMinute) return { seq: 0, duplicate: false, suppressed: 'rate' };
      recent.push(ts);
      s.botTimes = recent;
      s.botLast = text;
    }

    const seq = ++s.seq;
    const ev: StoredEvent = { seq, from, text, ts };
    if (from === 'agent') ev.agentId = actor;
    if (from === 'bot' && role !== '') ev.role = role;
    s.events.push(ev);
    if (cmid !== '') s.msgIds.set(mfield, seq);

    const out: Appended = { seq, duplicate: false };
    if (from === 'buyer' && s.firstAt === undefined) s.firstAt = ts;
    else if (from !== 'buyer' && s.firstAt !== undefined && s.frAt === undefined) {
      s.frAt = ts;
      out.firstResponseMs = ts - s.firstAt;
    }
    if (from === 'buyer' && state === 'bot' && flags.enqueue) {
      s.state = 'queued';
      s.role = role;
      s.arrived = ts;
      s.roles = [role];
      st.expireSession(s, undefined);
      st.persistBuyerSession(actor);
      const q = st.queue(role);
      q.add(sid, ts);
      out.enqueued = { role, position: q.rank(sid)! + 1 };
    } else if (from === 'buyer' && state === 'queued' && role !== s.role && flags.reclassify) {
      // Moves to the role the buyer named, keeping its arrival time as its place in line.
      const fromRole = s.role;
      st.queue(fromRole).remove(sid);
      const q = st.queue(role);
      q.add(sid, s.arrived);
      s.role = role;
      s.roles = [...(s.roles ?? [fromRole]), role];
      out.moved = { fromRole, toRole: role, position: q.rank(sid)! + 1 };
    }

    const frame = JSON.stringify({
      type: 'message',
      sessionId: sid,
      seq,
      from,
      text,
      ts,
      ...(from === 'bot' && role !== '' ? { role } : {}),
    });
    // Each side gets what the other side said; a sender learns its seq from the ack.
    if (from !== 'buyer') this.bus.deliver({ kind: 'buyer', shop, id: s.buyer }, frame);
    if (from !== 'agent' && state === 'assigned') this.bus.deliver({ kind: 'agent', shop, id: s.agent! }, frame);
    return out;
  }

  async rate(shop: string, sessionId: string, buyerId: string, score: number, comment: string | undefined, now: number) {
    const st = this.shop(shop);
    const s = st.session(sessionId);
    if (!s || s.buyer !== buyerId) fail('unknown_session', `no session ${sessionId}`);
    if (s.state !== 'closed' || !s.lastAgent) fail('bad_state', 'a session can be rated once an agent has closed it');
    if (s.rating !== undefined) fail('bad_state', `session ${sessionId} is already rated`);
    s.rating = score;
    s.ratingComment = comment ?? '';
    s.ratedAt = now;
    const a = st.agents.get(s.lastAgent);
    if (a) {
      a.ratingSum += score;
      a.ratingCount += 1;
    }
  }

  // ---- agents ----

  async agentConnect(shop: string, agentId: string, connId: string, now: number): Promise<AgentView> {
    this.knownShops.add(shop);
    const st = this.shop(shop);
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
    a.conns.add(connId);
    return agentView(shop, a);
  }

  async agentDisconnect(shop: string, agentId: string, connId: string, now: number, graceMs: number) {
    const st = this.shop(shop);
    const a = st.agents.get(agentId);
    a?.conns.delete(connId);
    if (!a || a.status === 'offline' || a.conns.size > 0) return { offline: false, requeued: [] };
    a.want = a.status;
    a.status = 'offline';
    st.refreshAvail(agentId);

    // Nobody is there to answer an offer, so it goes to the next agent now, not at its timeout.
    const requeued = st.requeueHeld(agentId, a.offers, 'offered');
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
    const st = this.shop(shop);
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
    const st = this.shop(shop);
    const s = st.session(sessionId);
    if (!s) fail('unknown_session', `no session ${sessionId}`);
    const note = s.note ? { note: s.note } : {};
    if (s.state === 'assigned' && s.agent === agentId) return { role: s.role, ...note, alreadyAssigned: true };
    if (s.state !== 'offered' || s.agent !== agentId) fail('bad_state', `session ${sessionId} is not offered to you`);
    // Past its deadline the offer is dead even if no timer has re-queued it yet.
    if (s.offerExp! < now) fail('bad_state', `the offer of session ${sessionId} has expired`);
    s.state = 'assigned';
    s.lastAgent = agentId;
    delete s.offerExp;
    st.offers.remove(sessionId);
    const a = st.agents.get(agentId);
    if (a?.offers.delete(sessionId)) a.sessions.add(sessionId);
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
    const st = this.shop(shop);
    const s = st.session(sid);
    if (agentId !== '') {
      if (!s) fail('unknown_session', `no session ${sid}`);
      if (s.state !== 'offered' || s.agent !== agentId) fail('bad_state', `session ${sid} is not offered to you`);
    } else if (!s || s.state !== 'offered' || s.offerExp! > now) {
      return null;
    }
    const holder = s.agent!;
    st.requeue(s);
    st.agents.get(holder)?.offers.delete(sid);
    st.releaseLoad(holder, now, false);
    // The agent who let it go is skipped for a while so the session really reaches the next one.
    if (excludeMs > 0) s.excluded.set(holder, now + excludeMs);
    return { sessionId: sid, buyerId: s.buyer, role: s.role, agentId: holder };
  }

  async transfer(shop: string, sessionId: string, agentId: string, toRole: string, note: string | undefined, now: number, excludeMs: number) {
    const st = this.shop(shop);
    const s = st.session(sessionId);
    if (!s) fail('unknown_session', `no session ${sessionId}`);
    if (s.state === 'closed') fail('bad_state', `session ${sessionId} is closed`);
    if (s.state !== 'assigned' || s.agent !== agentId) fail('not_assigned', `session ${sessionId} is not assigned to you`);
    const fromRole = s.role;
    s.roles = [...(s.roles ?? [fromRole]), toRole];
    s.role = toRole;
    if (note) s.note = note;
    else delete s.note;
    st.requeue(s);
    st.agents.get(agentId)?.sessions.delete(sessionId);
    st.releaseLoad(agentId, now, true);
    if (excludeMs > 0) s.excluded.set(agentId, now + excludeMs);
    return { fromRole, buyerId: s.buyer };
  }

  async close(shop: string, sessionId: string, agentId: string | null, reason: string, now: number, retentionMs: number) {
    const { buyerId, holder } = this.closeSession(shop, sessionId, agentId ?? '', reason, now, retentionMs, 0);
    return { buyerId, ...(holder ? { agentId: holder } : {}) };
  }

  async block(shop: string, sessionId: string, agentId: string, reason: string, now: number, blockMs: number, retentionMs: number) {
    const { buyerId } = this.closeSession(shop, sessionId, agentId, reason, now, retentionMs, blockMs);
    return { buyerId };
  }

  /** close.lua: ends a session from any open state; with blockMs > 0 also blocks its buyer. */
  private closeSession(shop: string, sid: string, agentId: string, reason: string, now: number, retentionMs: number, blockMs: number) {
    const st = this.shop(shop);
    const s = st.session(sid);
    if (!s) fail('unknown_session', `no session ${sid}`);
    if (s.state === 'closed') fail('bad_state', `session ${sid} is already closed`);
    const holder = s.agent;
    if (agentId !== '' && (s.state !== 'assigned' || holder !== agentId)) {
      fail('not_assigned', `session ${sid} is not assigned to you`);
    }
    if (s.state === 'queued') {
      st.queues.get(s.role)?.remove(sid);
    } else if (s.state === 'offered') {
      st.offers.remove(sid);
      st.agents.get(holder!)?.offers.delete(sid);
      st.releaseLoad(holder!, now, false);
    } else if (s.state === 'assigned') {
      st.agents.get(holder!)?.sessions.delete(sid);
      st.releaseLoad(holder!, now, true);
    }
    s.state = 'closed';
    s.closedReason = reason;
    s.closedAt = now;
    delete s.agent;
    delete s.offerExp;
    if (st.buyerSession(s.buyer) === sid) st.dropBuyerSession(s.buyer);
    st.expireSession(s, retentionMs);
    if (blockMs > 0) st.block(s.buyer, reason, blockMs);
    return { buyerId: s.buyer, holder };
  }

  async expireGrace(shop: string, agentId: string, now: number): Promise<Requeued[]> {
    const st = this.shop(shop);
    const a = st.agents.get(agentId);
    if (a?.status !== 'offline') {
      st.grace.remove(agentId);
      return [];
    }
    if (a.graceUntil !== undefined && a.graceUntil > now) return [];
    const requeued = st.requeueHeld(agentId, a.sessions, 'assigned');
    a.load = a.offers.size;
    delete a.graceUntil;
    st.grace.remove(agentId);
    return requeued;
  }

  // ---- routing ----

  /** dispatch.lua: pairs the oldest waiting sessions of one role with the best available agents. */
  async dispatch(shop: string, role: string, now: number, offerTimeoutMs: number, max: number): Promise<Offer[]> {
    const st = this.shop(shop);
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
        if (!s || s.state !== 'queued' || s.role !== role) {
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

  async dueOffers(shop: string, now: number): Promise<string[]> {
    return this.shop(shop).offers.upTo(now);
  }

  async dueGrace(shop: string, now: number): Promise<string[]> {
    return this.shop(shop).grace.upTo(now);
  }
}
