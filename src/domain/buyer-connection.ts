import { botTexts, fillText, resolveShop } from '../config/shop-config.ts';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { PeakError, isPeakError } from '../protocol/errors.ts';
import { encode, messageFrame } from '../protocol/encode.ts';
import type { Address, BuyerIdentity, BuyerPostResult, ConnRef } from '../store/types.ts';
import { Delivery } from './delivery.ts';
import { buyerLimits, queuePriority, sessionBounds, stickyHoldMs } from './bounds.ts';
import type { Deps } from './deps.ts';
import type { Sink } from './hub.ts';
import { matchFaq } from './bots/faq.ts';
import { asksForHuman, isBotFirst } from './bots/bot-first.ts';
import { hoursText, roleOpen } from './bots/business-hours.ts';
import { PlanRecorder } from './plan-recorder.ts';
import { bucketKeys, type BucketKeys } from './buyer-limits.ts';
import { routingText, storedExtras, type MessageContent } from './message-content.ts';
import type { Services } from './services.ts';

/**
 * One buyer connection's view of its chat. The transport hands it validated frames and a
 * sink for outbound payloads; it never sees the socket.
 */
export class BuyerConnection {
  private sessionId = '';
  private readonly connId = randomUUID();
  private readonly delivery: Delivery;
  private readonly address: Address;
  private readonly log: Logger;
  private readonly plan: PlanRecorder;
  private readonly buckets: BucketKeys;
  private detach: (() => Promise<void>) | undefined;
  /** Counted among the buyer's live connections (buyerConnect). */
  private connected = false;
  /** The last message found an agent on the chat (until a queue, handover or close says otherwise). */
  private withAgent = false;
  /** The session whose transcript was found full: its next lines go to the store (which refuses them, or answers a resend) unclassified. */
  private fullSession = '';
  /** The bot-first role whose FAQ bot has been answering this session ('' = none; restored on resume from the store). */
  private botRole = '';

  private constructor(
    private readonly d: Deps,
    private readonly svc: Services,
    readonly shop: string,
    readonly buyerId: string,
    private readonly send: Sink,
    private readonly identity: BuyerIdentity,
  ) {
    this.delivery = new Delivery(send);
    this.address = { kind: 'buyer', shop, id: buyerId };
    this.buckets = bucketKeys(shop, buyerId);
    this.log = d.logger.child({ shop, buyerId });
    this.plan = new PlanRecorder(d);
  }

  /**
   * Subscribes first, then opens (or resumes) the session, so no event falls in between. The
   * connection's registration (instance set, then the buyer's connections: one Redis connection
   * runs them in the order sent) goes out beside the SUBSCRIBE: at midnight each sequential
   * round trip is a turn of a busy event loop on the way to the welcome.
   */
  static async open(d: Deps, svc: Services, shop: string, buyerId: string, send: Sink, identity: BuyerIdentity = { vip: 0 }): Promise<BuyerConnection> {
    const conn = new BuyerConnection(d, svc, shop, buyerId, send, identity);
    const tracking = d.store.trackConn(d.instanceId, conn.connRef);
    const connecting = d.store.buyerConnect(shop, buyerId, conn.connId, d.config().server.maxConnectionsPerBuyer, d.now());
    const attaching = d.hub.attach(conn.address, (p) => conn.onPayload(p), () => conn.catchUp());
    const [tracked, connected, attached] = await Promise.allSettled([tracking, connecting, attaching]);
    if (attached.status === 'fulfilled') conn.detach = attached.value;
    conn.connected = connected.status === 'fulfilled';
    const failed = [tracked, connected, attached].find((r) => r.status === 'rejected');
    if (failed) {
      // Tracked but never counted among the buyer's connections: disconnect leaves that to us.
      const untrack = !conn.connected && tracked.status === 'fulfilled';
      await conn.disconnect().catch(() => {});
      if (untrack) await d.store.untrackConn(d.instanceId, conn.connRef).catch(() => {});
      throw failed.reason;
    }
    try {
      await conn.openSession();
    } catch (err) {
      await conn.disconnect();
      throw err;
    }
    svc.recovery.connections.add(conn);
    return conn;
  }

  get currentSession(): string {
    return this.sessionId;
  }

  private async openSession(): Promise<void> {
    const opened = await this.d.store.openSession(this.shop, this.buyerId, this.d.now(), this.identity);
    if (this.sessionId) this.delivery.forget(this.sessionId);
    this.sessionId = opened.sessionId;
    this.withAgent = false;
    this.botRole = '';
    this.delivery.follow(opened.sessionId);
    if (opened.created) {
      // Beside the greeting, never before it: the hook's answer lands on the session when it comes.
      this.svc.context.opened(this.shop, this.buyerId, opened.sessionId);
      this.log.info({ sessionId: opened.sessionId }, 'session opened');
    }
    const sc = resolveShop(this.d.config(), this.shop);
    this.send(encode({ type: 'welcome', sessionId: opened.sessionId, lastSeq: opened.lastSeq, shopName: sc.displayName, roleNames: sc.bots.roleNames }));
    if (!opened.created) await this.rejoinQueue(opened.sessionId);
  }

  /** A buyer back while waiting keeps getting its place in line. */
  private async rejoinQueue(sessionId: string): Promise<void> {
    const s = await this.d.store.getSession(this.shop, sessionId);
    if (s?.state === 'bot') this.botRole = s.botRole ?? '';
    if (s?.state !== 'queued') return;
    const position = await this.d.store.queuePosition(this.shop, s.role, sessionId);
    if (position === null) return;
    this.svc.waitingRoom.track(sessionId, { shop: this.shop, buyerId: this.buyerId, role: s.role, position, queuedAt: s.arrivedAt });
    this.send(encode({ type: 'queue', sessionId, role: s.role, position }));
  }

  private onPayload(payload: string): void {
    const frame = JSON.parse(payload) as { type: string; sessionId?: string; seq?: number; role?: string; position?: number };
    if (frame.type === 'message') {
      this.delivery.live(frame.sessionId!, frame.seq!, payload);
      return;
    }
    if (frame.sessionId && frame.sessionId !== this.sessionId) return;
    if (frame.type === 'queue' || frame.type === 'handover' || frame.type === 'closed') this.withAgent = false;
    // Whichever instance queued the session (a transfer, a re-queue), the buyer's own
    // instance keeps it company while it waits.
    if (frame.type === 'queue') {
      this.svc.waitingRoom.track(this.sessionId, { shop: this.shop, buyerId: this.buyerId, role: frame.role!, position: frame.position!, queuedAt: this.d.now() });
    } else if (frame.type === 'closed') {
      this.svc.waitingRoom.untrack(this.sessionId);
    }
    this.send(payload);
  }

  async message(clientMsgId: string, content: MessageContent): Promise<void> {
    const text = routingText(content);
    const { store } = this.d;
    // A buyer over its shared limit already here costs nothing more (see LocalBuyerLimits).
    if (!this.svc.buyerLimits.admit(this.buckets, this.d.now(), buyerLimits(this.d.config()))) {
      throw new PeakError('rate_limited', 'too many messages from this buyer or shop; slow down');
    }
    const post = async () => {
      // With an agent on the chat, or a transcript that is full, routing and the FAQ have
      // nothing to decide: the matching (the costliest step of a buyer line) is skipped.
      const skip = this.withAgent || this.fullSession === this.sessionId;
      const config = this.d.config();
      const intent = skip ? undefined : this.d.classifier.classify(this.shop, text);
      const faq = skip ? undefined : matchFaq(config, this.shop, text);
      const sc = resolveShop(config, this.shop);
      const now = this.d.now();
      // A line naming no role stays with the bot-first role the bot has been answering.
      const role = intent && !intent.matched && this.botRole ? this.botRole : (intent?.role ?? '');
      // A bot-first role's bot keeps the buyer until a person is asked for or no FAQ entry
      // answers; otherwise a question the FAQ answers fully does not need a human (the entry says so).
      const botFirst = !skip && isBotFirst(sc, role);
      const enqueue = botFirst ? !faq || asksForHuman(config, this.shop, text) : !faq || faq.queue;
      // Outside the role's business hours a session entering the queue is a left message.
      const leftMessage = !skip && !roleOpen(sc, role, now);
      const checking = storedExtras(this.d.files, this.shop, { kind: 'buyer', id: this.buyerId }, this.sessionId, content);
      const extras = checking && (await checking);
      const result = await store.postBuyerMessage(this.shop, this.sessionId, this.buyerId, {
        clientMsgId,
        text: content.text ?? '',
        extras,
        ts: now,
        role,
        enqueue,
        reclassify: intent?.matched ?? false,
        bounds: sessionBounds(config),
        limits: buyerLimits(config),
        priority: queuePriority(config, role),
        stickyHoldMs: stickyHoldMs(config),
        botFirst,
        leftMessage,
      });
      if (botFirst && result.state === 'bot') this.botRole = role;
      return { result, intent: intent && { ...intent, role }, faq, leftMessage: leftMessage && !!result.enqueued };
    };
    let posted: Awaited<ReturnType<typeof post>>;
    try {
      posted = await post();
    } catch (err) {
      if (isPeakError(err) && err.code === 'too_large') this.fullSession = this.sessionId;
      // The session ended (closed, or expired unused) while the buyer stayed: talking again
      // starts a new one, announced with a fresh welcome. A buyer who writes during the
      // rating window instead of rating has something new to say: the old chat says
      // goodbye and the message opens the next one.
      if (!isPeakError(err) || (err.code !== 'bad_state' && err.code !== 'unknown_session')) throw err;
      if (err.code === 'bad_state') await this.svc.closer.finish(this.shop, this.sessionId, false).catch(() => null);
      await this.openSession();
      posted = await post();
    }
    const { result, intent, faq, leftMessage } = posted;
    this.withAgent = result.state === 'assigned';
    this.send(encode({ type: 'ack', clientMsgId, seq: result.seq }));
    if (result.duplicate) return;
    this.d.metrics.events.inc({ shop: this.shop, from: 'buyer' });
    const sessionId = this.sessionId;
    let role = intent?.role ?? '';
    /** The `queue` frame's publish, not waited for before the greeting (see below). */
    let queuing: Promise<void> | undefined;
    if (result.enqueued) {
      role = result.enqueued.role;
      this.botRole = '';
      this.d.metrics.sessions.inc({ shop: this.shop, role });
      this.plan.queued(this.shop, role);
      this.log.info({ sessionId, role, position: result.enqueued.position, keywords: intent?.keywords, ...(this.identity.vip ? { vip: this.identity.vip } : {}) }, 'session queued');
      queuing = this.queued(role, result.enqueued.position);
    } else if (result.moved) {
      const { fromRole, toRole, position } = result.moved;
      role = toRole;
      this.plan.transferredIn(this.shop, toRole);
      this.log.info({ sessionId, fromRole, toRole, position, keywords: intent?.keywords }, 'session re-classified');
      await store.bus.publish(this.address, encode({ type: 'handover', sessionId, fromRole, toRole }));
      await this.queued(toRole, position);
    }
    // The first line of a session is what the golden 6 seconds are counted from. Once a
    // human has the chat the bot keeps quiet rather than talk over the agent.
    if (result.state === 'assigned') {
      await queuing;
      return;
    }
    // The greeting goes out without waiting for the queue frame's round trip: one store round
    // trip less on the golden 6 s path. The buyer still sees the queue frame first: its PUBLISH
    // was sent already, on the connection the bot line's script then goes through.
    await Promise.all([queuing, this.svc.bots.reply(this.shop, sessionId, role, { greet: result.seq === 1, faq })]);
    // Outside business hours the greeting still comes at once; then the bot says when agents
    // are back, and the line waits as a left message.
    if (leftMessage) {
      const sc = resolveShop(this.d.config(), this.shop);
      await this.svc.bots.say(this.shop, sessionId, fillText(botTexts(sc, role).outsideHours, { shop: sc.displayName, hours: hoursText(sc, role) }), 'reply', role);
    }
  }

  private async queued(role: string, position: number): Promise<void> {
    const sessionId = this.sessionId;
    this.svc.router.kick(this.shop, role);
    await this.d.store.bus.publish(this.address, encode({ type: 'queue', sessionId, role, position }));
  }

  /** Events published while the bus was reconnecting never arrived: replay them from the store. */
  private catchUp(): void {
    const at = this.delivery.positions().find(([sid]) => sid === this.sessionId);
    if (at) this.replay(at[1]).catch((err) => this.log.warn({ err, sessionId: this.sessionId }, 'catch-up after reconnect failed'));
  }

  /** Replays what came after `lastSeq`, less what this connection already sent live (it raced the resume). */
  async resume(lastSeq: number): Promise<void> {
    // A replay reads the whole rest of the transcript: it counts against the buyer's limits.
    await this.d.store.limitBuyer(this.shop, this.buyerId, this.d.now(), buyerLimits(this.d.config()));
    await this.replay(lastSeq);
  }

  private async replay(lastSeq: number): Promise<void> {
    const sessionId = this.sessionId;
    await this.delivery.snapshot(sessionId, async () => {
      const events = await this.d.store.readEvents(this.shop, sessionId, lastSeq);
      let upTo = lastSeq;
      for (const ev of events) {
        // The buyer's stream is what the shop said; its own lines it has from their acks.
        if (ev.from !== 'buyer' && !this.delivery.sentLive(sessionId, ev.seq)) this.send(encode(messageFrame(sessionId, ev)));
        upTo = ev.seq;
      }
      return upTo;
    });
  }

  /** A rating ends the rating window: the goodbye follows at once. */
  async rate(score: number, comment: string | undefined): Promise<void> {
    const sessionId = this.sessionId;
    if (!sessionId) throw new PeakError('bad_state', 'no session to rate');
    await this.d.store.limitBuyer(this.shop, this.buyerId, this.d.now(), buyerLimits(this.d.config()));
    await this.d.store.rate(this.shop, sessionId, this.buyerId, score, comment, this.d.now());
    // The window may have ended by itself meanwhile; then the session is read afresh.
    const s = (await this.svc.closer.finish(this.shop, sessionId, false)) ?? (await this.d.store.getSession(this.shop, sessionId));
    this.d.metrics.ratings.inc({ shop: this.shop, role: s?.role ?? '', score: String(score) });
    this.log.info({ sessionId, agentId: s?.lastAgentId, score }, 'session rated');
  }

  /**
   * The store lost its data: this connection counts again, and a buyer whose session is gone
   * is told so (`closed`, reason `store_reset`) and gets a new one; one still waiting hears
   * its place again.
   */
  async recover(): Promise<void> {
    if (!this.connected) return;
    await this.d.store.trackConn(this.d.instanceId, this.connRef);
    await this.d.store.buyerConnect(this.shop, this.buyerId, this.connId, this.d.config().server.maxConnectionsPerBuyer, this.d.now());
    const sessionId = this.sessionId;
    if (sessionId && (await this.d.store.getSession(this.shop, sessionId))) {
      await this.rejoinQueue(sessionId);
      return;
    }
    if (sessionId) {
      this.svc.waitingRoom.untrack(sessionId);
      this.send(encode({ type: 'closed', sessionId, reason: 'store_reset' }));
    }
    await this.openSession();
    this.log.warn({ lostSession: sessionId }, 'buyer connection registered again after the store lost its data');
  }

  /** The socket is gone; the session stays open for the buyer to come back to. */
  async disconnect(): Promise<void> {
    this.svc.recovery.connections.delete(this);
    // A buyer leaving is not yet a give-up: it may come back; the staffing plan counts an
    // abandonment once, when sessions.abandonMs closes the session (Closer.abandon).
    if (this.sessionId) this.svc.waitingRoom.untrack(this.sessionId);
    const detach = this.detach;
    this.detach = undefined;
    await detach?.();
    if (!this.connected) return;
    this.connected = false;
    await this.d.store.buyerDisconnect(this.shop, this.buyerId, this.connId, this.d.now());
    await this.d.store.untrackConn(this.d.instanceId, this.connRef);
  }

  private get connRef(): ConnRef {
    return { kind: 'buyer', shop: this.shop, id: this.buyerId, connId: this.connId };
  }
}
