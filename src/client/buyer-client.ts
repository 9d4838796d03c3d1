import type { BuyerServerFrame } from './frames.ts';
import { Outbox, SeqTracker } from './session-state.ts';
import { ReconnectingSocket, type ConnStatus, type WebSocketCtor } from './socket.ts';

export interface BuyerClientOptions {
  /** The gateway, `ws://host:port` or `wss://…` (the path is added). */
  url: string;
  token: () => string | Promise<string>;
  /** Default: globalThis.WebSocket; on Node 20 pass `ws`'s WebSocket. */
  WebSocket?: WebSocketCtor;
  /** Every frame, in order; seen-before transcript events are left out unless `duplicates`. */
  onFrame: (frame: BuyerServerFrame) => void;
  onStatus?: (status: ConnStatus) => void;
  duplicates?: boolean;
  /**
   * On the first welcome of a session this client has not seen (a page reload), replay its
   * transcript from the start (default true).
   */
  history?: boolean;
  heartbeat?: { pingEveryMs: number; silenceLimitMs: number } | false;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * A buyer's connection that survives outages: after a welcome of the same session it resumes
 * from the last seq seen and resends unacked lines with their clientMsgId. A welcome naming
 * another session means the old one ended meanwhile: its unacked lines are given up (their
 * `acked` rejects) rather than said into a conversation they were not meant for.
 */
export class BuyerClient {
  private readonly socket: ReconnectingSocket<BuyerServerFrame>;
  private readonly outbox = new Outbox();
  private seqs = new SeqTracker();
  private session: string | null = null;

  constructor(private readonly o: BuyerClientOptions) {
    this.socket = new ReconnectingSocket<BuyerServerFrame>({
      url: `${o.url.replace(/\/$/, '')}/v1/buyer`,
      token: o.token,
      onFrame: (f) => this.onFrame(f),
      ...(o.WebSocket ? { WebSocket: o.WebSocket } : {}),
      ...(o.onStatus ? { onStatus: o.onStatus } : {}),
      ...(o.heartbeat !== undefined ? { heartbeat: o.heartbeat } : {}),
      ...(o.baseDelayMs !== undefined ? { baseDelayMs: o.baseDelayMs } : {}),
      ...(o.maxDelayMs !== undefined ? { maxDelayMs: o.maxDelayMs } : {}),
    });
  }

  start(): void {
    this.socket.start();
  }

  stop(): void {
    this.socket.stop();
  }

  get isOpen(): boolean {
    return this.socket.isOpen;
  }

  drop(): void {
    this.socket.drop();
  }

  get sessionId(): string | null {
    return this.session;
  }

  /** The last contiguous seq seen of the session. */
  get lastSeq(): number {
    return this.seqs.last;
  }

  /** Says `text`: now if connected, else after the next welcome, again after every reconnect until acked. */
  say(text: string): { clientMsgId: string; acked: Promise<number> } {
    const { line, acked } = this.outbox.add(text);
    if (this.session) this.socket.send(line.frame);
    return { clientMsgId: line.clientMsgId, acked };
  }

  unacked(): { clientMsgId: string; text: string }[] {
    return this.outbox.pending().map((l) => ({ clientMsgId: l.clientMsgId, text: l.frame.text }));
  }

  rate(score: number, comment?: string): boolean {
    return this.socket.send({ type: 'rate', score, ...(comment ? { comment } : {}) });
  }

  send(frame: { type: string } & Record<string, unknown>): boolean {
    return this.socket.send(frame);
  }

  private onFrame(f: BuyerServerFrame): void {
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
        this.outbox.refused(f.ref, f.code, f.message);
        break;
    }
    this.o.onFrame(f);
  }
}
