import { messageFrame } from '../protocol/encode.ts';
import { PeakError } from '../protocol/errors.ts';
import type { MessageOut } from '../protocol/frames.ts';
import type { Address, SessionView } from '../store/types.ts';
import type { Deps } from './deps.ts';

export type MonitorEvent = { type: 'session'; session: SessionView } | { type: 'message'; message: MessageOut };

/** Live views one instance serves at once (each holds up to two bus subscriptions and a timer). */
export const MAX_MONITORS = 200;
/** Re-read this often even without a bus frame: a queued buyer's lines are published to nobody. */
export const MONITOR_POLL_MS = 1_000;

/**
 * A supervisor's read-only live view of one session: its state and every transcript line in
 * seq order, as long as the caller keeps it open. The store is the truth: a frame on the bus
 * for the session's buyer or holder only says "look again", and the view reads what is new
 * after the last seq it sent, so lines are never duplicated or reordered; a slow poll covers
 * what nobody is told about (a queued buyer's lines, a lost subscription).
 */
export class Monitor {
  private open = 0;

  constructor(private readonly d: Deps) {}

  /** Starts the view (its first events are the session and its transcript so far); null when no such session. */
  async watch(shop: string, sessionId: string, emit: (ev: MonitorEvent) => void): Promise<(() => Promise<void>) | null> {
    if (this.open >= MAX_MONITORS) throw new PeakError('rate_limited', `this instance serves ${MAX_MONITORS} live views already; retry later`);
    const first = await this.d.store.getSession(shop, sessionId);
    if (!first) return null;
    this.open++;
    let lastSeq = 0;
    let shown = '';
    let stopped = false;
    let running: Promise<void> | null = null;
    let again = false;
    const detach = new Map<string, () => Promise<void>>();

    const follow = async (address: Address | null, slot: 'buyer' | 'agent') => {
      const key = address ? `${address.kind}:${address.id}` : '';
      for (const [k, off] of detach) {
        if (k.startsWith(`${slot}:`) && k !== `${slot}:${key}`) {
          detach.delete(k);
          await off();
        }
      }
      if (!address || detach.has(`${slot}:${key}`) || stopped) return;
      const off = await this.d.hub.attach(address, (payload) => payload.includes(sessionId) && kick(), kick);
      if (stopped) await off();
      else detach.set(`${slot}:${key}`, off);
    };

    const refresh = async () => {
      const [session, events] = await Promise.all([this.d.store.getSession(shop, sessionId), this.d.store.readEvents(shop, sessionId, lastSeq)]);
      if (stopped) return;
      // The session first: a view starts with what the chat is, then what was said.
      const json = session ? JSON.stringify(session) : shown;
      if (session && json !== shown) {
        shown = json;
        emit({ type: 'session', session });
      }
      for (const e of events) {
        if (e.seq <= lastSeq) continue;
        lastSeq = e.seq;
        emit({ type: 'message', message: messageFrame(sessionId, e) });
      }
      if (!session) return;
      await follow(session.agentId ? { kind: 'agent', shop, id: session.agentId } : null, 'agent');
    };

    const kick = () => {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      running = (async () => {
        do {
          again = false;
          try {
            await refresh();
          } catch (err) {
            this.d.logger.warn({ err, shop, sessionId }, 'live view refresh failed');
          }
        } while (again && !stopped);
        running = null;
      })();
    };

    const timer = setInterval(kick, MONITOR_POLL_MS);
    try {
      await follow({ kind: 'buyer', shop, id: first.buyerId }, 'buyer');
      kick();
    } catch (err) {
      stopped = true;
      clearInterval(timer);
      this.open--;
      throw err;
    }
    return async () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      this.open--;
      await running;
      await Promise.allSettled([...detach.values()].map((off) => off()));
      detach.clear();
    };
  }
}
