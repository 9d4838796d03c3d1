/**
 * One simulated buyer: arrives, says why they came (a Chinese question of their role),
 * gets the bot's greeting, waits in line (maybe nudging "在吗？", maybe giving up), chats
 * with an agent (think time between lines), sometimes loses the connection and resumes,
 * and leaves once the session is closed (rating it, sometimes).
 */
import { BuyerClient } from '../src/client/buyer-client.ts';
import type { ConnStatus } from '../src/client/socket.ts';
import { lognormal, pick } from './profile.ts';
import type { Frame, SimContext } from './context.ts';
import { newTally, type PlanBuyer } from './plan-run.ts';
import { recordMs } from './stats.ts';

/** A buyer who leaves this soon after a comeback may go before its replay arrives. */
const REPLAY_GRACE_MS = 5_000;

type State = 'pending' | 'connecting' | 'greeting' | 'waiting' | 'chatting' | 'offline' | 'away' | 'done';

export class SimBuyer {
  private client: BuyerClient | undefined;
  /** Whether the current connection is open (for the connected gauge). */
  private opened = false;
  private state: State = 'pending';
  private sid = '';
  /** Highest seq of a server line seen: what a resume asks to continue from. */
  private lastSeq = 0;
  /** Lines up to this seq are a resume's replay (not timed). */
  private replayUpTo = 0;
  /** When the last welcome of a comeback arrived (its replay follows). */
  private resumedAt = 0;
  private readonly pending = new Map<string, number>();
  /** The last few things that happened to this buyer's connection, for samples of findings. */
  private readonly trace: string[] = [];
  private arrivedAt = 0;
  private reconnects = 0;
  private attempts = 0;
  private connectedOnce = false;
  private firstSentAt = 0;
  private greeted = false;
  private agentSeen = false;
  private agentLines = 0;
  private repliesLeft: number;
  private replyTimer: NodeJS.Timeout | undefined;
  private nudged = false;
  private closedSeen = false;
  /** The agent said goodbye or the bot invited a rating: nothing more to say. */
  private winding = false;
  private readonly abandon: boolean;
  private readonly reconnectAt: number;
  private readonly role: string | undefined;
  private gaveUp = false;
  /** VIP level in the token (0 = regular). */
  private readonly vip: number;
  /** Closes the page once while queued, and comes back. */
  private readonly leavesPage: boolean;
  private leftPage = false;

  constructor(
    private readonly ctx: SimContext,
    readonly id: string,
    private readonly onDone: (b: SimBuyer) => void,
    private readonly plan?: PlanBuyer,
  ) {
    const r = ctx.rand;
    const weights: Record<string, number> = { faq: ctx.fx.faqOnly.weight };
    for (const [role, lines] of Object.entries(ctx.fx.roles)) weights[role] = lines.weight;
    const sum = Object.values(weights).reduce((a, b) => a + b, 0);
    let x = r() * sum;
    let chosen = 'faq';
    for (const [k, w] of Object.entries(weights)) {
      x -= w;
      if (x < 0) {
        chosen = k;
        break;
      }
    }
    this.role = plan ? plan.role : chosen === 'faq' ? undefined : chosen;
    this.repliesLeft = Math.max(0, Math.round(ctx.b.messages * (0.5 + r())));
    this.abandon = plan ? plan.patienceS !== null : r() < ctx.b.abandonRate;
    this.reconnectAt = r() < ctx.b.reconnectRate ? 1 + Math.floor(r() * 3) : 0;
    // Drawn after the others, so a seed gives the same buyers as before these options.
    this.vip = r() < ctx.b.vipShare ? ctx.b.vipLevel : 0;
    this.leavesPage = r() < ctx.b.leaveShare;
    if (this.vip) ctx.counters.buyersVip++;
  }

  get waitingForAgent(): boolean {
    return this.state === 'waiting';
  }

  get isDone(): boolean {
    return this.state === 'done';
  }

  get reconnecting(): boolean {
    return this.state === 'offline';
  }

  /** Off the page (--leave-share), or back but not welcomed yet. */
  get away(): boolean {
    return this.state === 'away';
  }

  /**
   * Not there when the run ended, so what was said to it meanwhile waits in the transcript for
   * its resume, not lost: still off the page (--leave-share), or still trying to come back (a
   * planned drop whose reconnects failed so far, e.g. when the machine's accept queue overflowed).
   */
  absentAtEnd(): void {
    if (!this.sid) return;
    if (this.state === 'away' || (this.state === 'offline' && !this.closedSeen)) this.ctx.ledger.buyerGone(this.sid);
  }

  get notGreeted(): boolean {
    return this.firstSentAt > 0 && !this.greeted;
  }

  /** For duplicate samples: what this buyer's connection went through. */
  describe(): Record<string, unknown> {
    return { buyerId: this.id, state: this.state, reconnects: this.reconnects, lastSeq: this.lastSeq, replayUpTo: this.replayUpTo, trace: this.trace };
  }

  get sessionId(): string {
    return this.sid;
  }

  /** Burst mode: greeted, or gone. */
  get settled(): boolean {
    return this.greeted || this.state === 'done';
  }

  start(): void {
    this.arrivedAt = performance.now();
    this.ctx.counters.buyersArrived++;
    this.ctx.tick.arrivals++;
    void this.connect();
  }

  private note(what: string): void {
    if (this.trace.length >= 24) this.trace.shift();
    this.trace.push(`${Math.round(performance.now() - this.arrivedAt)}ms ${what}`);
  }

  private setState(s: State): void {
    if (this.state === s) return;
    if (this.state === 'waiting') this.ctx.waiting--;
    if (this.state === 'chatting') this.ctx.chatting--;
    if (s === 'waiting') this.ctx.waiting++;
    if (s === 'chatting') this.ctx.chatting++;
    this.state = s;
  }

  /**
   * Connects through the SDK client, which also brings the connection back after a planned
   * drop: it resumes from the last seq it saw and resends unacked lines with their clientMsgId.
   * Seen-before events are still passed on, so the ledger can count duplicates.
   */
  private async connect(): Promise<void> {
    const ctx = this.ctx;
    this.setState('connecting');
    let token: string;
    try {
      token = await ctx.token(this.id, 'buyer', undefined, this.vip);
    } catch (err) {
      ctx.sample('buyerConnectError', String(err));
      this.gone();
      return;
    }
    this.note('connecting');
    const client = new BuyerClient({
      url: ctx.url,
      token: () => token,
      WebSocket: ctx.WebSocket,
      duplicates: true,
      history: false,
      // The gateway pings; client pings from thousands of buyers would only add unmeasured load.
      heartbeat: false,
      baseDelayMs: 500,
      maxDelayMs: 4_000,
      onFrame: (f) => this.onFrame(f as unknown as Frame),
      onStatus: (st) => this.onStatus(st),
    });
    this.client = client;
    client.start();
  }

  private onStatus(st: ConnStatus): void {
    const ctx = this.ctx;
    if (st.state === 'connecting') return;
    if (st.state === 'open') {
      this.opened = true;
      this.note('open');
      this.attempts = 0;
      ctx.connectedBuyers++;
      if (!this.connectedOnce) {
        this.connectedOnce = true;
        ctx.counters.buyersConnected++;
        ctx.record('connect', performance.now() - this.arrivedAt);
      }
      return;
    }
    const wasOpen = this.opened;
    if (wasOpen) ctx.connectedBuyers--;
    this.opened = false;
    if (st.state === 'stopped' || this.state === 'done') return;
    // Away from the page: the close was ours.
    if (this.state === 'away') return;
    if (st.state === 'refused') {
      ctx.counters.buyerConnectErrors++;
      ctx.sample('buyerConnectError', `token refused (HTTP ${st.httpStatus})`);
      return this.gone();
    }
    this.note(wasOpen ? `close ${st.code ?? ''}` : `not opened: ${st.reason}`);
    // A planned drop: the client comes back by itself.
    if (wasOpen && this.state === 'offline') return;
    if (!wasOpen) {
      ctx.counters.buyerConnectErrors++;
      ctx.sample('buyerConnectError', st.reason);
      // An app retries a failed connect a few times before giving up (the client's backoff).
      if (this.attempts < 3) {
        this.attempts++;
        ctx.counters.buyerConnectRetries++;
        return;
      }
    }
    // Closed by the server, or no connection after retries: gone for good.
    this.client?.stop();
    this.gone();
  }

  private gone(): void {
    if (!this.connectedOnce) this.ctx.counters.buyersNeverConnected++;
    if (this.sid && !this.closedSeen) this.ctx.ledger.buyerGone(this.sid);
    this.finish();
  }

  private send(frame: { type: string } & Record<string, unknown>): void {
    this.client?.send(frame);
  }

  private say(text: string): void {
    const { clientMsgId } = this.client!.say(text);
    this.pending.set(clientMsgId, performance.now());
    this.ctx.counters.buyerMessagesSent++;
    this.ctx.tick.buyerMessages++;
  }

  private onFrame(f: Frame): void {
    const ctx = this.ctx;
    const now = performance.now();
    ctx.countFrame('buyer', f);
    switch (f.type) {
      case 'welcome':
        return this.onWelcome(f.sessionId as string, f.lastSeq as number);
      case 'ack': {
        const sentAt = this.pending.get(f.clientMsgId as string);
        if (sentAt === undefined) return;
        this.pending.delete(f.clientMsgId as string);
        ctx.counters.buyerMessagesAcked++;
        if (this.role) ctx.ledger.buyerAck(this.sid, f.seq as number, sentAt);
        else ctx.counters.buyerMessagesBotOnly++;
        return;
      }
      case 'message':
        return this.onMessage(f, now);
      case 'queue':
        if (this.state === 'greeting' || (this.state === 'chatting' && !this.agentSeen)) this.setState('waiting');
        if (this.state === 'waiting') this.whileWaiting();
        return;
      case 'handover':
        // Moved to another role's line (re-classified, or an agent transferred the chat).
        if (this.state === 'chatting') this.setState('waiting');
        return;
      case 'closed':
        this.note('closed');
        return this.onClosed();
    }
  }

  private onWelcome(sessionId: string, lastSeq: number): void {
    const ctx = this.ctx;
    this.note(`welcome ${sessionId.slice(0, 8)} lastSeq ${lastSeq} (mine ${this.lastSeq})`);
    ctx.ledger.buyerJoined(sessionId);
    if (!this.sid) {
      this.sid = sessionId;
      this.setState('greeting');
      const lines = this.role ? ctx.fx.roles[this.role]!.first : ctx.fx.faqOnly.first;
      this.firstSentAt = performance.now();
      ctx.counters.buyersFirstMessageSent++;
      this.say(pick(ctx.rand, lines));
      return;
    }
    if (sessionId === this.sid) {
      // Back after a dropped connection: the client resumes from its last seq and resends the
      // lines whose ack the dropped socket never delivered (same clientMsgId: stored once).
      this.replayUpTo = lastSeq;
      this.resumedAt = performance.now();
      ctx.counters.buyerMessagesResent += this.client?.unacked().length ?? 0;
      this.setState(this.agentSeen ? 'chatting' : 'waiting');
      return;
    }
    // The session ended underneath us (closed or closing while we were away, or while our
    // line was on its way) and the gateway opened a new one for what we said: this buyer
    // leaves, so nobody will read the new session.
    if (!this.closedSeen) ctx.ledger.buyerGone(this.sid);
    ctx.counters.sessionRestarts++;
    // The client gives up unacked lines of the old session rather than resend them into this one.
    this.sid = sessionId;
    ctx.ledger.buyerGone(sessionId);
    this.leave();
  }

  private onMessage(f: Frame, now: number): void {
    const ctx = this.ctx;
    const seq = f.seq as number;
    if ((f.sessionId as string) !== this.sid) return;
    if (seq > this.lastSeq) this.lastSeq = seq;
    this.note(`message ${seq} ${String(f.from)}${f.kind ? `/${String(f.kind)}` : ''}`);
    const fresh = ctx.ledger.buyerReceived(this.sid, seq, f.from as string, now, seq <= this.replayUpTo);
    if (!fresh) return;
    if (f.from === 'bot') {
      ctx.counters.botMessagesReceivedByBuyers++;
      if (f.kind === 'rating_invite') return this.onRatingInvite();
    }
    if (!this.greeted && this.firstSentAt && (f.from === 'bot' || f.from === 'agent')) {
      this.greeted = true;
      const ms = now - this.firstSentAt;
      ctx.record('firstResponse', ms);
      ctx.counters.buyersGreeted++;
      if (ms <= 6000) ctx.counters.greetedWithin6s++;
      // What the buyer lived through: connecting included.
      const fromArrival = now - this.arrivedAt;
      ctx.record('arrivalToGreeting', fromArrival);
      if (fromArrival <= 6000) ctx.counters.greetedWithin6sOfArrival++;
      if (ctx.b.greetOnly) return;
      if (!this.role) {
        // The FAQ bot answered a rules question: nothing more to ask.
        ctx.later(1000 + ctx.rand() * 2000, () => {
          ctx.counters.buyersFaqOnlyDone++;
          this.leave();
        });
      }
    }
    if (f.from !== 'agent') return;
    if (!this.agentSeen) {
      this.agentSeen = true;
      ctx.record('timeToAgent', now - this.firstSentAt);
      ctx.record(this.vip ? 'timeToAgentVip' : 'timeToAgentRegular', now - this.firstSentAt);
      ctx.counters.buyersReachedAgent++;
      if (this.role) {
        const t = ctx.role(this.role);
        t.reachedAgent++;
        recordMs(t.timeToAgent, now - this.firstSentAt);
      }
    }
    if (this.state === 'waiting' || this.state === 'greeting') this.setState('chatting');
    this.agentLines++;
    if (this.reconnectAt && this.agentLines === this.reconnectAt && this.state === 'chatting') {
      ctx.later(ctx.rand() * 1000, () => this.drop());
      return;
    }
    // Nobody answers "have a nice day" (a reply racing the close would open a new session).
    if (ctx.fx.agentClosings.includes(f.text as string)) {
      this.winding = true;
      clearTimeout(this.replyTimer);
      this.replyTimer = undefined;
    } else this.scheduleReply();
  }

  private scheduleReply(): void {
    const ctx = this.ctx;
    if (this.replyTimer || this.repliesLeft <= 0 || !this.role || this.winding) return;
    this.replyTimer = ctx.later(lognormal(ctx.rand, ctx.b.thinkS * 1000, 0.6), () => {
      this.replyTimer = undefined;
      if (this.state !== 'chatting' || this.closedSeen || this.winding) return;
      this.repliesLeft--;
      this.say(pick(ctx.rand, ctx.fx.roles[this.role!]!.followUps));
    });
  }

  /** In line: maybe nudge once, maybe give up. */
  private whileWaiting(): void {
    const ctx = this.ctx;
    if (!this.nudged) {
      this.nudged = true;
      if (this.role) ctx.role(this.role).waited++;
      if (ctx.rand() < 0.3) {
        ctx.later(lognormal(ctx.rand, 8000, 0.5), () => {
          if (this.state === 'waiting') this.say(pick(ctx.rand, ctx.fx.waiting));
        });
      }
      if (this.leavesPage && !this.abandon) this.leavePage();
      if (this.abandon) {
        // A plan's buyers have the model's exponential patience, counted from their first line.
        const patienceMs = this.plan?.patienceS ? Math.max(0, -Math.log(1 - ctx.rand()) * this.plan.patienceS * 1000 - (performance.now() - this.firstSentAt)) : lognormal(ctx.rand, ctx.b.patienceS * 1000, 0.5);
        ctx.later(patienceMs, () => {
          if (this.state !== 'waiting' || this.agentSeen || ctx.acceptedAt.has(this.sid)) return;
          this.gaveUp = true;
          ctx.counters.buyersAbandoned++;
          if (this.role) ctx.role(this.role).abandoned++;
          ctx.ledger.buyerGone(this.sid);
          this.leave();
        });
      }
    }
  }

  /**
   * Closes the page while queued (the store counts the buyer offline: its session waits behind
   * the online ones), then comes back on the same client, which resumes the session.
   */
  private leavePage(): void {
    const ctx = this.ctx;
    ctx.later(lognormal(ctx.rand, 4000, 0.5), () => {
      if (this.state !== 'waiting' || this.agentSeen || this.leftPage || !this.client) return;
      this.leftPage = true;
      ctx.counters.buyersLeftPage++;
      this.note('left the page');
      this.setState('away');
      this.client.stop();
      // Coming back is part of the drain too (`always`): the buyer returns to read its chat.
      ctx.later(lognormal(ctx.rand, ctx.b.awayS * 1000, 0.5), () => {
        if (this.state !== 'away' || !this.client) return;
        ctx.counters.buyersBackFromPage++;
        this.note('back on the page');
        // Still `away` until the welcome: a buyer whose connection never opens by the end read nothing.
        this.client.start();
      }, true);
    });
  }

  /** The phone lost its connection mid-chat: drop the socket, let the client come back and resume. */
  private drop(): void {
    const ctx = this.ctx;
    if (this.state !== 'chatting' || !this.client) return;
    ctx.counters.reconnects++;
    this.reconnects++;
    this.note('drop');
    this.setState('offline');
    this.client.drop();
  }

  /** The agent closed the chat and the bot asks for a rating: some rate (then get `closed`), the others just go. */
  private onRatingInvite(): void {
    const ctx = this.ctx;
    this.winding = true;
    clearTimeout(this.replyTimer);
    this.replyTimer = undefined;
    if (ctx.rand() < ctx.b.rateRate) {
      ctx.later(lognormal(ctx.rand, 2000, 0.5), () => {
        ctx.counters.ratings++;
        this.send({ type: 'rate', score: 3 + Math.floor(ctx.rand() * 3), comment: pick(ctx.rand, ctx.fx.ratingComments) });
      });
    } else {
      ctx.later(500 + ctx.rand() * 1500, () => {
        ctx.counters.buyersLeftAfterInvite++;
        this.leave();
      });
    }
  }

  private onClosed(): void {
    if (this.closedSeen) return;
    this.closedSeen = true;
    this.winding = true;
    this.ctx.counters.buyersClosed++;
    setTimeout(() => this.leave(), 300);
  }

  /** Leave for good (close the socket). */
  leave(): void {
    if (this.state === 'done') return;
    this.note('leave');
    // Leaving right after a comeback, before its replay arrived (a live rating invite can
    // overtake it): what the replay held waits in the transcript, it is not lost.
    if (this.sid && performance.now() - this.resumedAt < REPLAY_GRACE_MS && this.ctx.ledger.agentLinesMissing(this.sid, this.replayUpTo)) {
      this.ctx.ledger.buyerGone(this.sid);
    }
    this.finish();
    this.client?.stop();
  }

  private finish(): void {
    if (this.state === 'done') return;
    if (this.replyTimer) clearTimeout(this.replyTimer);
    this.tallyPlan();
    this.setState('done');
    this.onDone(this);
  }

  /** --plan: how this buyer fared against its role's target (counted buyers only, once). */
  private tallyPlan(): void {
    if (!this.plan?.measured) return;
    const t = (this.ctx.planTally[this.plan.role] ??= newTally());
    t.arrived++;
    const accepted = this.sid ? this.ctx.acceptedAt.get(this.sid) : undefined;
    if (this.gaveUp) t.abandoned++;
    else if (accepted !== undefined && this.firstSentAt > 0) {
      const wait = Math.max(0, accepted - this.firstSentAt);
      t.answered++;
      t.waitSumMs += wait;
      if (wait <= this.plan.answerWithinS * 1000) t.answeredWithin++;
    }
  }

  /** End of run: close without judging. */
  shutdown(): void {
    if (this.state !== 'done') this.finish();
    this.client?.stop();
  }
}
