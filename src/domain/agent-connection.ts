import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { PeakError, isPeakError } from '../protocol/errors.ts';
import { buyerCard } from './buyer-card.ts';
import { encode, messageFrame } from '../protocol/encode.ts';
import { storedExtras, type MessageContent } from './message-content.ts';
import { botTexts, fillText, resolveShop, roleName } from '../config/shop-config.ts';
import type { Address, ConnRef } from '../store/types.ts';
import { Delivery } from './delivery.ts';
import { sessionBounds } from './bounds.ts';
import type { Deps } from './deps.ts';
import type { Sink } from './hub.ts';
import type { Services } from './services.ts';
import { PlanRecorder } from './plan-recorder.ts';
import { BuyerHistory } from './buyer-history.ts';

/** One agent connection (a workbench tab). Several may exist for one agent. */
export class AgentConnection {
  private readonly connId = randomUUID();
  private readonly delivery: Delivery;
  private readonly address: Address;
  private readonly log: Logger;
  private readonly plan: PlanRecorder;
  private readonly history: BuyerHistory;
  private detach: (() => Promise<void>) | undefined;
  /** What the agent last went ready with, to register again after the store lost it. */
  private lastReady: { roles: string[]; capacity: number } | undefined;

  private constructor(
    private readonly d: Deps,
    private readonly svc: Services,
    readonly shop: string,
    readonly agentId: string,
    /** The token's `roles` claim; undefined = every role. */
    private readonly allowedRoles: readonly string[] | undefined,
    private readonly send: Sink,
  ) {
    this.delivery = new Delivery(send);
    this.address = { kind: 'agent', shop, id: agentId };
    this.log = d.logger.child({ shop, agentId });
    this.plan = new PlanRecorder(d);
    this.history = new BuyerHistory(d.store);
  }

  static async open(
    d: Deps,
    svc: Services,
    shop: string,
    agentId: string,
    allowedRoles: readonly string[] | undefined,
    send: Sink,
  ): Promise<AgentConnection> {
    const conn = new AgentConnection(d, svc, shop, agentId, allowedRoles, send);
    conn.detach = await d.hub.attach(conn.address, (p) => conn.onPayload(p), () => conn.catchUp());
    try {
      await conn.register();
    } catch (err) {
      await conn.detach?.();
      throw err;
    }
    svc.recovery.connections.add(conn);
    return conn;
  }

  private async register(): Promise<void> {
    // Recorded before it exists: if this instance dies in between, the others clean up anyway.
    await this.d.store.trackConn(this.d.instanceId, this.connRef);
    const view = await this.d.store.agentConnect(this.shop, this.agentId, this.connId, this.d.now(), this.allowedRoles);
    this.svc.router.cancelGrace(this.shop, this.agentId);
    for (const sid of view.sessions) this.delivery.follow(sid);
    const sc = resolveShop(this.d.config(), this.shop);
    this.send(
      encode({
        type: 'welcome',
        agentId: this.agentId,
        sessions: view.sessions,
        quickReplies: this.d.config().workbench.quickReplies,
        shopName: sc.displayName,
        roleNames: sc.bots.roleNames,
      }),
    );
    // Offers made while the agent was away from this tab are still live: show them again.
    for (const sid of view.offers) {
      const s = await this.d.store.getSession(this.shop, sid);
      if (s?.state !== 'offered' || s.agentId !== this.agentId || s.offerExpiresAt === undefined) continue;
      if (this.allowedRoles && !this.allowedRoles.includes(s.role)) {
        // Offered under roles the token no longer allows: it goes to someone who may take it.
        await this.decline(sid);
        continue;
      }
      const preview = await this.d.store.lastEvents(this.shop, sid, this.d.config().routing.previewEvents);
      this.send(
        encode({ type: 'offer', sessionId: sid, role: s.role, expiresAt: s.offerExpiresAt, preview: preview.map((e) => messageFrame(sid, e)), buyer: buyerCard(s), ...(s.overflowTo ? { overflow: true } : {}) }),
      );
    }
    this.log.info({ sessions: view.sessions.length, status: view.status }, 'agent connected');
    if (view.status === 'ready') for (const role of view.roles) this.svc.router.kick(this.shop, role);
  }

  private onPayload(payload: string): void {
    const frame = JSON.parse(payload) as { type: string; sessionId: string; seq?: number; transcript?: { seq: number }[] };
    switch (frame.type) {
      case 'message':
        // Only sessions assigned to this agent are published here, so an unknown one is a
        // session whose `assigned` snapshot is still on its way: hold its events until then.
        this.delivery.expect(frame.sessionId);
        this.delivery.live(frame.sessionId, frame.seq!, payload);
        return;
      case 'assigned': {
        const upTo = frame.transcript?.reduce((m, e) => Math.max(m, e.seq), 0) ?? 0;
        void this.delivery.snapshot(frame.sessionId, async () => {
          this.send(payload);
          return upTo;
        });
        return;
      }
      case 'session_closed':
        this.delivery.forget(frame.sessionId);
        this.send(payload);
        return;
      default:
        this.send(payload);
    }
  }

  async ready(roles: string[], capacity: number): Promise<void> {
    const known = this.d.config().routing.roles;
    const unique = [...new Set(roles)];
    const unknown = unique.filter((r) => !known.includes(r));
    if (unknown.length) throw new PeakError('bad_frame', `roles: unknown role ${unknown.map((r) => `"${r}"`).join(', ')}`);
    const denied = this.allowedRoles ? unique.filter((r) => !this.allowedRoles!.includes(r)) : [];
    if (denied.length) throw new PeakError('forbidden', `your token does not allow role ${denied.map((r) => `"${r}"`).join(', ')}`);
    try {
      await this.d.store.agentReady(this.shop, this.agentId, unique, capacity, this.d.now());
    } catch (err) {
      // The store no longer knows this connection (it lost its data): register, then go ready.
      if (!isPeakError(err) || err.code !== 'bad_state') throw err;
      await this.recover();
      await this.d.store.agentReady(this.shop, this.agentId, unique, capacity, this.d.now());
    }
    this.lastReady = { roles: unique, capacity };
    this.log.info({ roles: unique, capacity }, 'agent ready');
    for (const role of unique) this.svc.router.kick(this.shop, role);
  }

  async away(): Promise<void> {
    this.lastReady = undefined;
    await this.d.store.agentAway(this.shop, this.agentId, this.d.now());
    this.log.info('agent away');
  }

  async accept(sessionId: string): Promise<void> {
    const r = await this.d.store.accept(this.shop, sessionId, this.agentId, this.d.now(), { stickyWindowMs: this.d.config().routing.sticky.windowMs });
    this.svc.router.offerSettled(this.shop, sessionId);
    if (!r.alreadyAssigned) {
      this.d.metrics.offers.inc({ shop: this.shop, role: r.role, outcome: 'accepted' });
      this.log.info({ sessionId, role: r.role }, 'session assigned');
    }
    const [transcript, s] = await Promise.all([this.d.store.readEvents(this.shop, sessionId, 0), this.d.store.getSession(this.shop, sessionId)]);
    // Time to agent counts the first human only; later ones follow a transfer or a requeue.
    const firstHuman = !r.alreadyAssigned && s && s.roleHistory.length === 1 && s.lastAgentId === this.agentId && s.arrivedAt > 0;
    const waitedMs = firstHuman ? Math.max(0, this.d.now() - s.arrivedAt) : undefined;
    if (waitedMs !== undefined) this.d.metrics.timeToAgent.observe({ shop: this.shop, role: r.role }, waitedMs / 1000);
    if (!r.alreadyAssigned) this.plan.assigned(this.shop, r.role, sessionId, this.agentId, waitedMs);
    await this.d.store.bus.publish(
      this.address,
      encode({
        type: 'assigned',
        sessionId,
        role: r.role,
        transcript: transcript.map((e) => messageFrame(sessionId, e)),
        ...(r.note ? { note: r.note } : {}),
        roleHistory: s?.roleHistory ?? [r.role],
        handovers: s?.handovers ?? [],
        ...(s ? { buyer: buyerCard(s) } : {}),
        ...(r.overflow ? { overflow: true } : {}),
      }),
    );
  }

  async decline(sessionId: string): Promise<void> {
    const r = await this.d.store.decline(this.shop, sessionId, this.agentId, this.d.now(), this.d.config().routing.offerTimeoutMs);
    this.svc.router.offerSettled(this.shop, sessionId);
    this.d.metrics.offers.inc({ shop: this.shop, role: r.role, outcome: 'declined' });
    this.log.info({ sessionId, role: r.role }, 'offer declined');
    await this.svc.router.requeued(this.shop, [r]);
  }

  async message(sessionId: string, clientMsgId: string, content: MessageContent): Promise<void> {
    // Sensitive words (rival platforms, off-platform contact) never reach the buyer, in a
    // card's title no more than in the text.
    const text = content.text === undefined ? undefined : this.moderated(sessionId, content.text);
    const card = content.card && { ...content.card, title: this.moderated(sessionId, content.card.title) };
    const checking = storedExtras(this.d.files, this.shop, { kind: 'agent', id: this.agentId }, sessionId, { ...content, card });
    const extras = checking && (await checking);
    const r = await this.d.store.postAgentMessage(this.shop, sessionId, this.agentId, {
      clientMsgId,
      text: text ?? '',
      ts: this.d.now(),
      bounds: sessionBounds(this.d.config()),
      extras,
    });
    this.send(encode({ type: 'ack', clientMsgId, seq: r.seq }));
    if (r.duplicate) return;
    this.d.metrics.events.inc({ shop: this.shop, from: 'agent' });
    if (r.firstResponseMs !== undefined) this.d.metrics.firstResponse.observe({ shop: this.shop, role: r.role }, r.firstResponseMs / 1000);
    if (r.replyMs !== undefined) this.d.metrics.replySeconds.observe({ shop: this.shop, role: r.role }, r.replyMs / 1000);
  }

  /** The text as the buyer may see it (masked words starred); `forbidden` when a blocked word is in it. */
  private moderated(sessionId: string, text: string): string {
    const checked = this.d.moderator.check(this.shop, text);
    if (!checked.ok) {
      this.d.metrics.moderation.inc({ policy: 'block' });
      this.log.warn({ sessionId, list: checked.list, word: checked.word }, 'agent message blocked');
      throw new PeakError('forbidden', `message contains "${checked.word}" (list ${checked.list}); nothing was sent`);
    }
    if (checked.masked.length) this.d.metrics.moderation.inc({ policy: 'mask' });
    return checked.text;
  }

  async transfer(sessionId: string, toRole: string, note: string | undefined): Promise<void> {
    if (!this.d.config().routing.roles.includes(toRole)) throw new PeakError('bad_frame', `toRole: unknown role "${toRole}"`);
    const { offerTimeoutMs, transferBoostMs } = this.d.config().routing;
    const sc = resolveShop(this.d.config(), this.shop);
    const line = fillText(botTexts(sc, toRole).handover, { shop: sc.displayName, role: roleName(sc, toRole) });
    // One atomic step: the queue, the agent's capacity, `handover` and the bot's line.
    const r = await this.d.store.transfer(this.shop, sessionId, this.agentId, toRole, note, this.d.now(), {
      excludeMs: offerTimeoutMs,
      boostMs: transferBoostMs,
      line,
    });
    this.d.metrics.transfers.inc({ shop: this.shop, from_role: r.fromRole, to_role: toRole });
    this.plan.handled(this.shop, r.fromRole, sessionId);
    this.plan.transferredIn(this.shop, toRole);
    this.log.info({ sessionId, fromRole: r.fromRole, toRole, position: r.position, note: Boolean(note) }, 'session transferred');
    await this.svc.router.requeued(this.shop, [{ sessionId, buyerId: r.buyerId, role: toRole }]);
    // The agent's freed capacity may serve any of its roles.
    this.svc.router.kickAll(this.shop);
  }

  async close(sessionId: string): Promise<void> {
    await this.svc.closer.agentClose(this.shop, sessionId, this.agentId);
  }

  async block(sessionId: string, reason: string): Promise<void> {
    await this.svc.closer.block(this.shop, sessionId, this.agentId, reason);
  }

  /** The past sessions of the buyer of a session this agent holds (the buyer panel). */
  async buyerHistory(sessionId: string, page: { limit?: number; before?: number }): Promise<void> {
    const r = await this.history.forAgent(this.shop, this.agentId, sessionId, page);
    this.send(encode({ type: 'history', sessionId, buyerId: r.buyerId, sessions: r.sessions, ...(r.next !== undefined ? { next: r.next } : {}) }));
  }

  /** One of those sessions with its transcript. */
  async historyTranscript(sessionId: string, pastSessionId: string): Promise<void> {
    const r = await this.history.transcriptForAgent(this.shop, this.agentId, sessionId, pastSessionId);
    this.send(encode({ type: 'history_transcript', sessionId, pastSessionId, session: r.session, transcript: r.transcript }));
  }

  /** Events published while the bus was reconnecting never arrived: replay them from the store. */
  private catchUp(): void {
    for (const [sessionId, seq] of this.delivery.positions()) {
      this.replay(sessionId, seq).catch((err) => this.log.warn({ err, sessionId }, 'catch-up after reconnect failed'));
    }
  }

  private replay(sessionId: string, lastSeq: number): Promise<void> {
    return this.delivery.snapshot(sessionId, async () => {
      const events = await this.d.store.readEvents(this.shop, sessionId, lastSeq);
      // What this connection already sent live (it raced the resume) is not sent twice.
      for (const ev of events) if (!this.delivery.sentLive(sessionId, ev.seq)) this.send(encode(messageFrame(sessionId, ev)));
      return events.at(-1)?.seq ?? lastSeq;
    });
  }

  async resume(sessionId: string, lastSeq: number): Promise<void> {
    const s = await this.d.store.getSession(this.shop, sessionId);
    if (!s) throw new PeakError('unknown_session', `no session ${sessionId}`);
    if (s.state === 'closing' || s.state === 'closed') throw new PeakError('bad_state', `session ${sessionId} is ${s.state}`);
    if (s.state !== 'assigned' || s.agentId !== this.agentId) throw new PeakError('not_assigned', `session ${sessionId} is not assigned to you`);
    await this.replay(sessionId, lastSeq);
  }

  /**
   * The store lost its data: this connection, and the readiness it had, are registered
   * again; sessions it followed that are gone are over.
   */
  async recover(): Promise<void> {
    await this.d.store.trackConn(this.d.instanceId, this.connRef);
    await this.d.store.agentConnect(this.shop, this.agentId, this.connId, this.d.now(), this.allowedRoles);
    for (const [sessionId] of this.delivery.positions()) {
      if (await this.d.store.getSession(this.shop, sessionId)) continue;
      this.delivery.forget(sessionId);
      this.send(encode({ type: 'session_closed', sessionId, reason: 'store_reset' }));
    }
    if (this.lastReady) {
      await this.d.store.agentReady(this.shop, this.agentId, this.lastReady.roles, this.lastReady.capacity, this.d.now());
      for (const role of this.lastReady.roles) this.svc.router.kick(this.shop, role);
    }
    this.log.warn({ ready: Boolean(this.lastReady) }, 'agent connection registered again after the store lost its data');
  }

  /** The socket is gone. The last connection of an agent starts its grace period. */
  async disconnect(): Promise<void> {
    this.svc.recovery.connections.delete(this);
    await this.detach?.();
    this.detach = undefined;
    await this.svc.router.agentGone(this.shop, this.agentId, this.connId);
    await this.d.store.untrackConn(this.d.instanceId, this.connRef);
  }

  private get connRef(): ConnRef {
    return { kind: 'agent', shop: this.shop, id: this.agentId, connId: this.connId };
  }
}
