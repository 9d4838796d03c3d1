import { createHash } from 'node:crypto';
import type { OutboxEntry } from '../../store/types.ts';

/**
 * One delivery of one event to one subscriber (by URL), kept in the store between attempts:
 * the event's body exactly as first built (so its `id` and bytes never change), how many
 * attempts failed, since when it is tried, and the last failure for ops.
 */
export interface Job {
  id: string;
  eventId: string;
  type: string;
  sessionId: string;
  url: string;
  body: string;
  /** The event's own time (ms): delivery latency counts from it. */
  eventTs: number;
  attempts: number;
  firstAt: number;
  last?: string;
}

/** A stable event id from where the event lives (shop and outbox entry): the same on every attempt and instance. */
export function eventId(shop: string, entry: string): string {
  return `evt_${createHash('sha256').update(`${shop}\u0000${entry}`).digest('hex').slice(0, 32)}`;
}

/** The POST body of an event: `{ id, type, shop, sessionId, ts, data }`. */
export function eventBody(shop: string, e: OutboxEntry): { id: string; body: string } {
  const id = eventId(shop, e.entry);
  let data: unknown = {};
  try {
    data = JSON.parse(e.data);
  } catch {
    // The scripts write cjson; anything else is not the shop's business.
  }
  return { id, body: JSON.stringify({ id, type: e.type, shop, sessionId: e.sessionId, ts: e.ts, data }) };
}

export function newJob(shop: string, e: OutboxEntry, url: string, now: number): Job {
  const { id, body } = eventBody(shop, e);
  const sub = createHash('sha256').update(url).digest('hex').slice(0, 12);
  return { id: `${id}:${sub}`, eventId: id, type: e.type, sessionId: e.sessionId, url, body, eventTs: e.ts, attempts: 0, firstAt: now };
}

export function parseJob(body: string): Job | null {
  try {
    const j = JSON.parse(body) as Job;
    return typeof j.id === 'string' && typeof j.url === 'string' && typeof j.body === 'string' ? j : null;
  } catch {
    return null;
  }
}

/**
 * When the next attempt is due after `attempts` failed ones: exponential from `baseMs`, at most
 * `maxMs`, with "equal jitter" (half fixed, half random) so endpoints that come back are not
 * hit by every waiting delivery at once.
 */
export function backoffMs(attempts: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempts - 1)));
  return Math.round(exp / 2 + random() * (exp / 2));
}
