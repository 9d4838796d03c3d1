/**
 * One simulated agent: goes online for its roles with its capacity, accepts offers after a
 * short reaction time (declining a few), greets, answers each buyer line after a typing
 * delay, and after a log-normal handle time says goodbye and closes the session — or, for
 * some chats, transfers them to another role.
 */
import { AgentClient } from '../src/client/agent-client.ts';
import { lognormal, pick } from './profile.ts';
import type { Frame, SimContext } from './context.ts';
import type { AgentSpec } from './types.ts';
import { newTally } from './plan-run.ts';

interface Chat {
  role: string;
  replyTimer: NodeJS.Timeout | undefined;
  endTimer: NodeJS.Timeout | undefined;
  transfer: boolean;
  buyerLines: number;
  ending: boolean;
}

export class SimAgent {
  private client: AgentClient | undefined;
  private readonly chats = new Map<string, Chat>();
  private readonly pending = new Map<string, { sid: string; sentAt: number }>();
  private opened = false;

  constructor(
    private readonly ctx: SimContext,
    readonly spec: AgentSpec,
  ) {}

  get sessions(): string[] {
    return [...this.chats.keys()];
  }

  /**
   * Resolves once connected and `ready` was sent; rejects if the first connection fails. The
   * SDK client then keeps it connected: after a drop it comes back ready, resumes its sessions
   * and resends unacked lines (seen-before events are still passed on, for the ledger).
   */
  async connect(): Promise<void> {
    const ctx = this.ctx;
    const token = await ctx.token(this.spec.id, 'agent', this.spec.roles);
    await new Promise<void>((resolve, reject) => {
      let everOpened = false;
      const client = new AgentClient({
        url: ctx.url,
        token: () => token,
        WebSocket: ctx.WebSocket,
        duplicates: true,
        // The gateway pings; thousands of client pings would only add load the run does not measure.
        heartbeat: false,
        onFrame: (f) => this.onFrame(f as unknown as Frame),
        onStatus: (st) => {
          if (st.state === 'open') {
            if (!everOpened) {
              everOpened = true;
              client.ready(this.spec.roles, this.spec.capacity);
              resolve();
            }
            this.opened = true;
            ctx.connectedAgents++;
            return;
          }
          if (this.opened) ctx.connectedAgents--;
          this.opened = false;
          if (!everOpened && (st.state === 'waiting' || st.state === 'refused')) {
            client.stop();
            reject(new Error(st.state === 'refused' ? `agent token refused (HTTP ${st.httpStatus})` : `agent could not connect (${st.reason})`));
          }
        },
      });
      this.client = client;
      client.start();
    });
  }

  private send(frame: { type: string } & Record<string, unknown>): void {
    this.client?.send(frame);
  }

  private say(sid: string, text: string): void {
    const { clientMsgId } = this.client!.say(sid, text);
    this.pending.set(clientMsgId, { sid, sentAt: performance.now() });
    this.ctx.counters.agentMessagesSent++;
    this.ctx.tick.agentMessages++;
  }

  private onFrame(f: Frame): void {
    const ctx = this.ctx;
    const c = ctx.counters;
    const now = performance.now();
    ctx.countFrame('agent', f);
    const sid = f.sessionId as string;
    switch (f.type) {
      case 'offer': {
        c.offers++;
        const decline = ctx.rand() < ctx.b.declineRate;
        ctx.later(lognormal(ctx.rand, 150, 0.5), () => {
          if (decline) c.declines++;
          else c.accepts++;
          if (!decline && ctx.b.plan) ctx.acceptedAt.set(sid, performance.now());
          this.send({ type: decline ? 'decline' : 'accept', sessionId: sid });
        });
        return;
      }
      case 'assigned':
        return this.onAssigned(sid, (f.role as string) ?? this.spec.roles[0]!, (f.transcript as { seq: number }[]) ?? []);
      case 'message': {
        ctx.ledger.agentReceived(sid, this.spec.id, f.seq as number, f.from as string, now);
        const chat = this.chats.get(sid);
        if (f.from === 'buyer' && chat) {
          chat.buyerLines++;
          if (chat.transfer && chat.buyerLines >= 2 && !chat.ending) return this.transfer(sid, chat);
          this.scheduleReply(sid, chat);
        }
        return;
      }
      case 'ack': {
        const p = this.pending.get(f.clientMsgId as string);
        if (!p) return;
        this.pending.delete(f.clientMsgId as string);
        c.agentMessagesAcked++;
        ctx.ledger.agentAck(p.sid, this.spec.id, f.seq as number, p.sentAt);
        return;
      }
      case 'session_closed': {
        c.sessionClosedFrames++;
        ctx.tick.closed++;
        ctx.ledger.windowClosed(sid, this.spec.id);
        const chat = this.chats.get(sid);
        if (chat) {
          clearTimeout(chat.replyTimer);
          clearTimeout(chat.endTimer);
          this.chats.delete(sid);
        }
        return;
      }
      case 'revoked':
        c.revoked++;
        return;
    }
  }

  private onAssigned(sid: string, role: string, transcript: { seq: number }[]): void {
    const ctx = this.ctx;
    ctx.counters.assigned++;
    ctx.tick.assigned++;
    ctx.ledger.assigned(sid, this.spec.id, transcript);
    const chat: Chat = {
      role,
      replyTimer: undefined,
      endTimer: undefined,
      transfer: ctx.rand() < ctx.b.transferRate && !!ctx.fx.transfers[role],
      buyerLines: 0,
      ending: false,
    };
    this.chats.set(sid, chat);
    chat.replyTimer = ctx.later(lognormal(ctx.rand, 500, 0.5), () => {
      chat.replyTimer = undefined;
      this.say(sid, pick(ctx.rand, ctx.fx.agentGreetings));
    });
    const handleMs = ctx.b.plan ? -Math.log(1 - ctx.rand()) * (this.spec.handleS ?? ctx.b.handleS) * 1000 : lognormal(ctx.rand, ctx.b.handleS * 1000, 0.5);
    if (ctx.b.plan) {
      // The handle times the run drew (counted at the start: chats still open at the end count too).
      const t = (ctx.planTally[role] ??= newTally());
      t.handled++;
      t.handleSumMs += handleMs;
    }
    chat.endTimer = ctx.later(handleMs, () => this.wrapUp(sid, chat));
  }

  private scheduleReply(sid: string, chat: Chat): void {
    const ctx = this.ctx;
    if (chat.replyTimer || chat.ending) return;
    chat.replyTimer = ctx.later(lognormal(ctx.rand, ctx.b.typingS * 1000, 0.5), () => {
      chat.replyTimer = undefined;
      if (chat.ending || !this.chats.has(sid)) return;
      const lines = ctx.fx.roles[chat.role]?.agentReplies ?? ctx.fx.agentGreetings;
      this.say(sid, pick(ctx.rand, lines));
    });
  }

  private wrapUp(sid: string, chat: Chat): void {
    const ctx = this.ctx;
    if (chat.ending || !this.chats.has(sid)) return;
    chat.ending = true;
    clearTimeout(chat.replyTimer);
    this.say(sid, pick(ctx.rand, ctx.fx.agentClosings));
    // A plan's handle time ends with the close: no pause after the goodbye.
    ctx.later(ctx.b.plan ? 0 : 800, () => {
      ctx.counters.closes++;
      this.send({ type: 'close', sessionId: sid });
    });
  }

  private transfer(sid: string, chat: Chat): void {
    const ctx = this.ctx;
    const t = ctx.fx.transfers[chat.role]!;
    chat.ending = true;
    clearTimeout(chat.replyTimer);
    clearTimeout(chat.endTimer);
    ctx.later(lognormal(ctx.rand, ctx.b.typingS * 1000, 0.5), () => {
      ctx.counters.transfers++;
      this.send({ type: 'transfer', sessionId: sid, toRole: t.toRole, note: t.note });
    });
  }

  shutdown(): void {
    for (const chat of this.chats.values()) {
      clearTimeout(chat.replyTimer);
      clearTimeout(chat.endTimer);
    }
    this.client?.stop();
  }
}
