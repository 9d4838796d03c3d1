import type { Sink } from './hub.ts';

const MAX_BUFFERED = 1_000;

interface Stream {
  /** Live events are held back while a replay or the `assigned` snapshot is being sent. */
  open: boolean;
  highestSent: number;
  held: { seq: number; payload: string }[];
  /** Seqs this connection sent live (the most recent MAX_BUFFERED), so a replay does not send them again. */
  liveSent: Set<number>;
}

/**
 * Per-connection delivery of one or more sessions' transcript events, so that what the
 * client sees is gap-free and never repeats: live events that race a replay or snapshot
 * are held, then sent only if the snapshot did not already contain them.
 */
export class Delivery {
  private readonly streams = new Map<string, Stream>();

  constructor(private readonly send: Sink) {}

  private stream(sessionId: string, open: boolean): Stream {
    let s = this.streams.get(sessionId);
    if (!s) {
      s = { open, highestSent: 0, held: [], liveSent: new Set() };
      this.streams.set(sessionId, s);
    }
    return s;
  }

  /** Sessions whose live events go straight through (the buyer's own, an agent's known ones). */
  follow(sessionId: string): void {
    this.stream(sessionId, true).open = true;
  }

  /** Sessions whose events must wait for a snapshot (an agent's session between accept and `assigned`). */
  expect(sessionId: string): void {
    this.stream(sessionId, false);
  }

  forget(sessionId: string): void {
    this.streams.delete(sessionId);
  }

  /**
   * Whether this connection already sent `seq` live. A replay skips those, rather than
   * starting after the highest seq sent: a live line that overtook a resume (published between
   * the reconnect and the resume) would otherwise make the replay skip the lines before it.
   */
  sentLive(sessionId: string, seq: number): boolean {
    return this.streams.get(sessionId)?.liveSent.has(seq) ?? false;
  }

  /** Each followed session with the highest seq sent, to catch up from. */
  positions(): [sessionId: string, highestSent: number][] {
    return [...this.streams].filter(([, s]) => s.open).map(([id, s]) => [id, s.highestSent]);
  }

  live(sessionId: string, seq: number, payload: string): void {
    const s = this.streams.get(sessionId);
    if (!s) return; // not a session this connection shows
    if (!s.open) {
      if (s.held.length < MAX_BUFFERED) s.held.push({ seq, payload });
      return;
    }
    if (seq <= s.highestSent) return;
    s.highestSent = seq;
    s.liveSent.add(seq);
    if (s.liveSent.size > MAX_BUFFERED) s.liveSent.delete(s.liveSent.values().next().value!);
    this.send(payload);
  }

  /**
   * Sends a snapshot (replay or `assigned`) produced by `load`, holding live events meanwhile.
   * `load` sends its frames itself and returns the highest seq they covered.
   */
  async snapshot(sessionId: string, load: () => Promise<number>): Promise<void> {
    const s = this.stream(sessionId, false);
    s.open = false;
    try {
      const upTo = await load();
      s.highestSent = Math.max(s.highestSent, upTo);
    } finally {
      s.open = true;
      const held = s.held;
      s.held = [];
      for (const h of held) this.live(sessionId, h.seq, h.payload);
    }
  }
}
