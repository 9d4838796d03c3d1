import { newClientMsgId } from './frames.ts';

/**
 * The seqs seen of one session: `last` is the highest n with 1..n all seen, which is what a
 * resume asks from, so a gap (an event lost with a dropped socket) is replayed.
 */
export class SeqTracker {
  last = 0;
  private readonly ahead = new Set<number>();

  /** Records `seq`; false when it was seen already (a replay overlapping what arrived live). */
  see(seq: number): boolean {
    if (seq <= this.last || this.ahead.has(seq)) return false;
    this.ahead.add(seq);
    while (this.ahead.delete(this.last + 1)) this.last++;
    return true;
  }
}

export interface PendingLine {
  clientMsgId: string;
  /** The frame as first sent; resent unchanged, so the gateway stores it once. */
  frame: { type: 'message'; clientMsgId: string; text?: string; sessionId?: string } & LineExtras;
  resolve(seq: number): void;
  reject(err: Error): void;
}

/** What a line carries besides its text (PROTOCOL v1.1): a product or order card, uploaded images. */
export interface LineExtras {
  card?: { kind: 'product' | 'order'; id: string; title: string; price?: string; imageUrl?: string; url?: string; status?: string };
  attachments?: { id: string; contentType: string; name?: string; size: number }[];
}

/** An `error` frame that answers one of our lines (its `ref` is the clientMsgId). */
export class LineRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'LineRefused';
  }
}

/** Error codes after which the same line may go again later; anything else drops it. */
const RETRYABLE = new Set(['unavailable', 'rate_limited']);

/** Lines sent but not acked yet, oldest first: what goes again after a reconnect. */
export class Outbox {
  private readonly lines = new Map<string, PendingLine>();

  /** `clientMsgId`: a line restored from storage keeps the id it was first sent with. */
  /** `extras`: a card or images; `text` may then be '' (it is left out of the frame). */
  add(text: string, sessionId?: string, clientMsgId = newClientMsgId(), extras: LineExtras = {}): { line: PendingLine; acked: Promise<number> } {
    let line!: PendingLine;
    const acked = new Promise<number>((resolve, reject) => {
      line = {
        clientMsgId,
        frame: { type: 'message', clientMsgId, ...(text ? { text } : {}), ...(sessionId ? { sessionId } : {}), ...extras },
        resolve,
        reject,
      };
    });
    // Nobody has to await it (the outbox resends anyway); an unobserved refusal is not a crash.
    acked.catch(() => {});
    this.lines.set(clientMsgId, line);
    return { line, acked };
  }

  /** The acked line, if it was ours. */
  ack(clientMsgId: string, seq: number): PendingLine | undefined {
    const line = this.lines.get(clientMsgId);
    if (!line) return undefined;
    this.lines.delete(clientMsgId);
    line.resolve(seq);
    return line;
  }

  /**
   * An error about one of our lines: when retryable (store down, rate limit) the line is
   * returned, to go again a little later; otherwise it is given up (its `acked` rejects).
   */
  refused(ref: string | undefined, code: string, message: string): PendingLine | undefined {
    const line = ref ? this.lines.get(ref) : undefined;
    if (!line) return undefined;
    if (RETRYABLE.has(code)) return line;
    this.lines.delete(line.clientMsgId);
    line.reject(new LineRefused(code, message));
    return undefined;
  }

  has(line: PendingLine): boolean {
    return this.lines.get(line.clientMsgId) === line;
  }

  /** Gives up every line (of `sessionId`, or all): the session they belonged to is gone. */
  drop(reason: string, sessionId?: string): void {
    for (const line of [...this.lines.values()]) {
      if (sessionId !== undefined && line.frame.sessionId !== sessionId) continue;
      this.lines.delete(line.clientMsgId);
      line.reject(new LineRefused('session_gone', reason));
    }
  }

  pending(sessionId?: string): PendingLine[] {
    return [...this.lines.values()].filter((l) => sessionId === undefined || l.frame.sessionId === sessionId);
  }
}
