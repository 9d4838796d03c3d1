import type { AgentServerFrame } from './frames.ts';
import { SeqTracker, type LineExtras } from './session-state.ts';
import { ClientBase, type ClientOptions } from './client-base.ts';

export type AgentClientOptions = ClientOptions<AgentServerFrame>;

/**
 * An agent's connection that survives outages without losing or repeating anything: after
 * every `welcome` it goes `ready` again (if it was), resumes each session it still holds from
 * the last seq it saw, and resends every unacked line with its original clientMsgId.
 */
export class AgentClient extends ClientBase<AgentServerFrame> {
  private readonly seqs = new Map<string, SeqTracker>();
  private presence: { roles: string[]; capacity: number } | null = null;

  constructor(protected override readonly o: AgentClientOptions) {
    super(o, '/v1/agent');
  }

  /** The sessions this client holds, with the last contiguous seq seen of each. */
  get sessions(): Map<string, number> {
    return new Map([...this.seqs].map(([id, t]) => [id, t.last]));
  }

  /** Go online; remembered, so a reconnect goes ready again. */
  ready(roles: string[], capacity: number): boolean {
    this.presence = { roles, capacity };
    return this.socket.send({ type: 'ready', roles, capacity });
  }

  away(): boolean {
    this.presence = null;
    return this.socket.send({ type: 'away' });
  }

  accept(sessionId: string): boolean {
    return this.socket.send({ type: 'accept', sessionId });
  }

  decline(sessionId: string): boolean {
    return this.socket.send({ type: 'decline', sessionId });
  }

  /**
   * Carries on sessions kept elsewhere (a page's storage): each with the seqs already shown,
   * so the next welcome resumes after them. Call before start().
   */
  restore(sessions: Iterable<[string, Iterable<number>]>): void {
    for (const [id, seen] of sessions) {
      const t = this.tracker(id);
      for (const seq of seen) t.see(seq);
    }
  }

  /**
   * Says `text` in a session. It goes now if connected, else after the next welcome, and
   * again after every reconnect until acked; `acked` resolves with its seq. `clientMsgId`: a
   * line restored from storage keeps its original id.
   */
  say(sessionId: string, text: string, clientMsgId?: string, extras?: LineExtras): { clientMsgId: string; acked: Promise<number> } {
    const { line, acked } = this.outbox.add(text, sessionId, clientMsgId, extras);
    this.socket.send(line.frame);
    return { clientMsgId: line.clientMsgId, acked };
  }

  /** Lines of `sessionId` (or all) not acked yet. */
  unacked(sessionId?: string): { clientMsgId: string; text: string; sessionId: string }[] {
    return this.outbox.pending(sessionId).map((l) => ({ clientMsgId: l.clientMsgId, text: l.frame.text ?? '', sessionId: l.frame.sessionId! }));
  }

  transfer(sessionId: string, toRole: string, note?: string): boolean {
    return this.socket.send({ type: 'transfer', sessionId, toRole, ...(note ? { note } : {}) });
  }

  close(sessionId: string): boolean {
    return this.socket.send({ type: 'close', sessionId });
  }

  block(sessionId: string, reason: string): boolean {
    return this.socket.send({ type: 'block', sessionId, reason });
  }

  private tracker(sessionId: string): SeqTracker {
    let t = this.seqs.get(sessionId);
    if (!t) this.seqs.set(sessionId, (t = new SeqTracker()));
    return t;
  }

  private forget(sessionId: string, reason: string): void {
    this.seqs.delete(sessionId);
    this.outbox.drop(reason, sessionId);
  }

  protected onFrame(f: AgentServerFrame): void {
    switch (f.type) {
      case 'welcome': {
        this.socket.healthy();
        const held = new Set(f.sessions);
        for (const id of [...this.seqs.keys()]) if (!held.has(id)) this.forget(id, 'the session is no longer this agent\'s');
        if (this.presence) this.socket.send({ type: 'ready', ...this.presence });
        // Lines said from inside the app's welcome handler go out there; only older ones are resent.
        const resend = this.outbox.pending();
        this.o.onFrame(f);
        for (const id of f.sessions) {
          this.socket.send({ type: 'resume', sessionId: id, lastSeq: this.tracker(id).last });
          for (const line of resend) if (line.frame.sessionId === id) this.socket.send(line.frame);
        }
        return;
      }
      case 'assigned': {
        const t = this.tracker(f.sessionId);
        for (const e of f.transcript) t.see(e.seq);
        break;
      }
      case 'message': {
        const fresh = this.tracker(f.sessionId).see(f.seq);
        if (!fresh && !this.o.duplicates) return;
        break;
      }
      case 'ack': {
        // The agent's own line takes a seq of its session: seen, so a replay does not show it twice.
        const line = this.outbox.ack(f.clientMsgId, f.seq);
        if (line?.frame.sessionId) this.tracker(line.frame.sessionId).see(f.seq);
        break;
      }
      case 'error':
        this.lineError(f.ref, f.code, f.message);
        break;
      case 'session_closed':
        this.forget(f.sessionId, `the session was closed (${f.reason})`);
        break;
      case 'status':
        // Set away by ops: a reconnect must not make the agent ready again behind their back.
        if (f.status === 'away') this.presence = null;
        break;
    }
    this.o.onFrame(f);
  }
}
