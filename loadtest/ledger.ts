/**
 * The transcript ledger of one worker: what each side sent (with the seq its `ack` gave),
 * what each side received, and when. It pairs a send with its delivery for the latency
 * histograms, and at the end checks every acked message against what the other side saw:
 * lost (never delivered although it should have been) and duplicated (delivered twice).
 *
 * Rules, per the protocol (seq is per session, strictly increasing and contiguous):
 * - An agent's view of a session (a "window", from `assigned` to `session_closed`) must be
 *   gap-free and repeat nothing: transcript ∪ live events ∪ the agent's own acked lines
 *   covers 1..max. A buyer line is lost if a window should have shown it (a later seq
 *   reached that window, or the window is still open at the end) and none did.
 * - A buyer line acked while no agent held the session, and no agent picked it up before the
 *   end, is "still queued", not lost.
 * - Every agent line acked must reach the buyer exactly once (live, or replayed after a
 *   reconnect's `resume`), unless that buyer had left for good.
 * Sessions are per worker (each worker has its own shop), so both sides are in this process.
 */
import type { Counters } from './stats.ts';

interface Window {
  agentId: string;
  open: boolean;
  seen: Map<number, number>;
  own: Set<number>;
}

interface SessionLedger {
  buyerGone: boolean;
  /** A buyer of the run was welcomed into it (else its buyer left before the welcome came). */
  joined: boolean;
  /** seq → send time of buyer lines (acked). */
  buyerAcked: Map<number, number>;
  /** seq → arrival at an agent, for lines whose ack had not come back yet. */
  agentArrivals: Map<number, number>;
  /** seq → how often the buyer received it (bot and agent lines). */
  buyerReceived: Map<number, number>;
  /** seq → send time of agent lines (acked). */
  agentAcked: Map<number, number>;
  /** seq → arrival at the buyer, for agent lines whose ack had not come back yet. */
  buyerArrivals: Map<number, number>;
  /** Buyer lines counted as delivered live (for the live/transcript split). */
  liveToAgent: Set<number>;
  windows: Window[];
}

export interface LatencySink {
  buyerToAgent(ms: number): void;
  agentToBuyer(ms: number): void;
  /** A line reached a side a second time (for the report's samples). */
  duplicate?(detail: Record<string, unknown>): void;
}

export class Ledger {
  private readonly sessions = new Map<string, SessionLedger>();
  /** Events for sessions an agent had no window for (should not happen). */
  stray = 0;

  constructor(private readonly lat: LatencySink) {}

  private s(sid: string): SessionLedger {
    let s = this.sessions.get(sid);
    if (!s) {
      s = {
        buyerGone: false,
        joined: false,
        buyerAcked: new Map(),
        agentArrivals: new Map(),
        buyerReceived: new Map(),
        agentAcked: new Map(),
        buyerArrivals: new Map(),
        liveToAgent: new Set(),
        windows: [],
      };
      this.sessions.set(sid, s);
    }
    return s;
  }

  private window(s: SessionLedger, agentId: string): Window | undefined {
    for (let i = s.windows.length - 1; i >= 0; i--) {
      const w = s.windows[i]!;
      if (w.agentId === agentId) return w.open ? w : undefined;
    }
    return undefined;
  }

  buyerAck(sid: string, seq: number, sentAt: number): void {
    const s = this.s(sid);
    s.buyerAcked.set(seq, sentAt);
    const arrived = s.agentArrivals.get(seq);
    if (arrived !== undefined) {
      s.agentArrivals.delete(seq);
      this.lat.buyerToAgent(arrived - sentAt);
    }
  }

  /** An agent received `assigned` with this transcript. */
  assigned(sid: string, agentId: string, transcript: readonly { seq: number }[]): void {
    const s = this.s(sid);
    const w: Window = { agentId, open: true, seen: new Map(), own: new Set() };
    for (const e of transcript) w.seen.set(e.seq, (w.seen.get(e.seq) ?? 0) + 1);
    s.windows.push(w);
  }

  /** A live `message` frame at an agent. */
  agentReceived(sid: string, agentId: string, seq: number, from: string, now: number): void {
    const s = this.s(sid);
    const w = this.window(s, agentId);
    if (!w) {
      this.stray++;
      return;
    }
    w.seen.set(seq, (w.seen.get(seq) ?? 0) + 1);
    if (w.seen.get(seq)! > 1) this.lat.duplicate?.({ side: 'agent', sessionId: sid, agentId, seq, from, times: w.seen.get(seq) });
    if (from !== 'buyer' || w.seen.get(seq)! > 1) return;
    s.liveToAgent.add(seq);
    const sentAt = s.buyerAcked.get(seq);
    if (sentAt !== undefined) this.lat.buyerToAgent(now - sentAt);
    else s.agentArrivals.set(seq, now);
  }

  agentAck(sid: string, agentId: string, seq: number, sentAt: number): void {
    const s = this.s(sid);
    // A resent clientMsgId would ack the same seq again: keep the first send time.
    if (!s.agentAcked.has(seq)) s.agentAcked.set(seq, sentAt);
    const w = this.window(s, agentId);
    if (w) w.own.add(seq);
    else {
      // The ack can trail the session_closed of a transfer: the line is still part of that window.
      for (let i = s.windows.length - 1; i >= 0; i--) if (s.windows[i]!.agentId === agentId) {
        s.windows[i]!.own.add(seq);
        break;
      }
    }
    const arrived = s.buyerArrivals.get(seq);
    if (arrived !== undefined) {
      s.buyerArrivals.delete(seq);
      this.lat.agentToBuyer(arrived - sentAt);
    }
  }

  windowClosed(sid: string, agentId: string): void {
    const s = this.sessions.get(sid);
    const w = s && this.window(s, agentId);
    if (w) w.open = false;
  }

  /** A `message` frame at the buyer; `replay` = part of a resume, not timed. Returns false on a duplicate. */
  buyerReceived(sid: string, seq: number, from: string, now: number, replay: boolean): boolean {
    const s = this.s(sid);
    const n = (s.buyerReceived.get(seq) ?? 0) + 1;
    s.buyerReceived.set(seq, n);
    if (n > 1) {
      this.lat.duplicate?.({ side: 'buyer', sessionId: sid, seq, from, replay, times: n });
      return false;
    }
    if (from === 'agent' && !replay) {
      const sentAt = s.agentAcked.get(seq);
      if (sentAt !== undefined) this.lat.agentToBuyer(now - sentAt);
      else s.buyerArrivals.set(seq, now);
    }
    return true;
  }

  buyerGone(sid: string): void {
    this.s(sid).buyerGone = true;
  }

  /**
   * A buyer of the run was welcomed into the session. A session nobody joined was opened by a
   * line its buyer sent while leaving (into the rating window, say): nobody reads it.
   */
  buyerJoined(sid: string): void {
    this.s(sid).joined = true;
  }

  /** An agent line the buyer has not received although it is still there to receive it. */
  private undelivered(s: SessionLedger, seq: number): boolean {
    return !s.buyerReceived.has(seq) && !s.buyerGone && s.joined;
  }

  /** Whether an agent line up to `upTo` has not reached the buyer yet. */
  agentLinesMissing(sid: string, upTo: number): boolean {
    const s = this.sessions.get(sid);
    if (!s) return false;
    for (const seq of s.agentAcked.keys()) if (seq <= upTo && !s.buyerReceived.has(seq)) return true;
    return false;
  }

  /** Agent lines still on their way to a buyer who is there (live, or a comeback's replay). */
  agentLinesInFlight(): number {
    let n = 0;
    for (const s of this.sessions.values()) for (const seq of s.agentAcked.keys()) if (this.undelivered(s, seq)) n++;
    return n;
  }

  /** The final check, after the run drained. Adds its findings to `c`. */
  check(c: Counters, sample: (kind: string, detail: unknown) => void): void {
    for (const [sid, s] of this.sessions) {
      const last = s.windows.at(-1);
      const covered = (w: Window) => {
        let m = 0;
        for (const k of w.seen.keys()) if (k > m) m = k;
        for (const k of w.own) if (k > m) m = k;
        return m;
      };
      const maxes = s.windows.map(covered);
      for (const seq of s.buyerAcked.keys()) {
        if (s.windows.some((w) => w.seen.has(seq))) {
          c.buyerMessagesReceivedByAgents++;
          if (s.liveToAgent.has(seq)) c.buyerMessagesLiveToAgents++;
        } else if (maxes.some((m) => m > seq) || last?.open) {
          c.buyerMessagesLost++;
          sample('buyerMessageLost', { sessionId: sid, seq, windows: s.windows.map((w, i) => ({ agentId: w.agentId, open: w.open, max: maxes[i] })) });
        } else c.buyerMessagesStillQueued++;
      }
      s.windows.forEach((w, i) => {
        for (const n of w.seen.values()) if (n > 1) c.agentStreamDuplicates += n - 1;
        for (const [seq, n] of w.seen) if (n > 1 && s.buyerAcked.has(seq)) c.buyerMessagesDuplicated += n - 1;
        for (let seq = 1; seq <= maxes[i]!; seq++) {
          if (!w.seen.has(seq) && !w.own.has(seq)) {
            c.agentStreamGaps++;
            sample('agentStreamGap', { sessionId: sid, agentId: w.agentId, seq, max: maxes[i] });
          }
        }
      });
      for (const seq of s.agentAcked.keys()) {
        if (s.buyerReceived.has(seq)) c.agentMessagesReceivedByBuyers++;
        else if (!this.undelivered(s, seq)) c.agentMessagesToAbsentBuyers++;
        else {
          c.agentMessagesLost++;
          sample('agentMessageLost', { sessionId: sid, seq, buyerReceived: [...s.buyerReceived.keys()], agentAcked: [...s.agentAcked.keys()] });
        }
      }
      for (const [seq, n] of s.buyerReceived) {
        if (n <= 1) continue;
        if (s.agentAcked.has(seq)) c.agentMessagesDuplicated += n - 1;
        else c.botMessagesDuplicated += n - 1;
      }
    }
  }
}
