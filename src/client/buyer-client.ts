import type { BuyerServerFrame } from './frames.ts';
import { SeqTracker, type LineExtras } from './session-state.ts';
import { ClientBase, type ClientOptions } from './client-base.ts';

export interface BuyerClientOptions extends ClientOptions<BuyerServerFrame> {
  /**
   * On the first welcome of a session this client has not seen (a page reload), replay its
   * transcript from the start (default true).
   */
  history?: boolean;
}

/**
 * A buyer's connection that survives outages: after a welcome of the same session it resumes
 * from the last seq seen and resends unacked lines with their clientMsgId. A welcome naming
 * another session means the old one ended meanwhile: its unacked lines are given up (their
 * `acked` rejects) rather than said into a conversation they were not meant for.
 */
export class BuyerClient extends ClientBase<BuyerServerFrame> {
  private seqs = new SeqTracker();
  private session: string | null = null;

  constructor(protected override readonly o: BuyerClientOptions) {
    super(o, '/v1/buyer');
  }

  get sessionId(): string | null {
    return this.session;
  }

  /** The last contiguous seq seen of the session. */
  get lastSeq(): number {
    return this.seqs.last;
  }

  /**
   * Carries on a conversation kept elsewhere (a page's storage): its session and the seqs
   * already shown, so the next welcome of that session resumes after them. Call before start().
   */
  restore(sessionId: string, seen: Iterable<number>): void {
    this.session = sessionId;
    this.seqs = new SeqTracker();
    for (const seq of seen) this.seqs.see(seq);
  }

  /**
   * Says `text`: now if connected, else after the next welcome, again after every reconnect
   * until acked. `clientMsgId`: a line restored from storage keeps its original id.
   */
  say(text: string, clientMsgId?: string, extras?: LineExtras): { clientMsgId: string; acked: Promise<number> } {
    const { line, acked } = this.outbox.add(text, undefined, clientMsgId, extras);
    if (this.session) this.socket.send(line.frame);
    return { clientMsgId: line.clientMsgId, acked };
  }

  unacked(): { clientMsgId: string; text: string }[] {
    return this.outbox.pending().map((l) => ({ clientMsgId: l.clientMsgId, text: l.frame.text ?? '' }));
  }

  rate(score: number, comment?: string): boolean {
    return this.socket.send({ type: 'rate', score, ...(comment ? { comment } : {}) });
  }

  protected onFrame(f: BuyerServerFrame): void {
    switch (f.type) {
      case 'welcome': {
        this.socket.healthy();
        const known = this.session === f.sessionId;
        if (!known) {
          if (this.session) this.outbox.drop('the session ended while the buyer was away');
          this.session = f.sessionId;
          this.seqs = new SeqTracker();
        }
        // Lines said from inside the app's welcome handler go out there; only older ones are resent.
        const resend = this.outbox.pending();
        this.o.onFrame(f);
        if (known || (this.o.history !== false && f.lastSeq > 0)) this.socket.send({ type: 'resume', lastSeq: this.seqs.last });
        for (const line of resend) this.socket.send(line.frame);
        return;
      }
      case 'message':
        if (f.sessionId === this.session && !this.seqs.see(f.seq) && !this.o.duplicates) return;
        break;
      case 'ack':
        // The buyer's own line takes a seq too; it is never sent back, so it counts as seen.
        this.seqs.see(f.seq);
        this.outbox.ack(f.clientMsgId, f.seq);
        break;
      case 'error':
        this.lineError(f.ref, f.code, f.message);
        break;
    }
    this.o.onFrame(f);
  }
}
