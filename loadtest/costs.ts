/**
 * What one session costs, measured at the end of a run: Redis bytes per open and per closed
 * session (MEMORY USAGE over a sample of sessions' keys), the gateway's log lines and bytes per
 * session at its log level, and gateway RSS per connected buyer.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

export interface SessionCosts {
  redis: { sampled: number; openSessions: number; closedSessions: number; bytesPerOpen: number | null; bytesPerClosed: number | null } | null;
  log: { lines: number; bytes: number; sessionsOpened: number; linesPerSession: number | null; bytesPerSession: number | null; byMessage: Record<string, number> } | null;
  gatewayRssPerBuyerKB: number | null;
}

const SAMPLE = 400;

/** A sample of the sessions in Redis (any prefix): the keys of each (hash, transcript, message ids) summed. */
export async function redisSessionBytes(url: string): Promise<SessionCosts['redis']> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    const open: number[] = [];
    const closed: number[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', '*}:s:*', 'COUNT', 2000);
      cursor = next;
      for (const key of keys) {
        if (open.length >= SAMPLE && closed.length >= SAMPLE) break;
        const state = await client.hget(key, 'state');
        if (!state) continue;
        const into = state === 'closed' ? closed : open;
        if (into.length >= SAMPLE) continue;
        const base = key.slice(0, key.lastIndexOf(':s:'));
        const sid = key.slice(key.lastIndexOf(':s:') + 3);
        let bytes = 0;
        for (const k of [key, `${base}:t:${sid}`, `${base}:m:${sid}`]) bytes += Number((await client.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')) ?? 0);
        into.push(bytes);
      }
    } while (cursor !== '0' && (open.length < SAMPLE || closed.length < SAMPLE));
    const avg = (xs: number[]) => (xs.length ? Math.round(xs.reduce((a, b) => a + b, 0) / xs.length) : null);
    return { sampled: open.length + closed.length, openSessions: open.length, closedSessions: closed.length, bytesPerOpen: avg(open), bytesPerClosed: avg(closed) };
  } finally {
    client.disconnect();
  }
}

/** Lines and bytes of the gateway's log over the run, per session it opened ("session opened" lines). */
export function logCosts(file: string): SessionCosts['log'] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const byMessage: Record<string, number> = {};
  let lines = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    lines++;
    const m = /"msg":"((?:[^"\\]|\\.)*)"/.exec(line);
    const msg = m ? m[1]! : '?';
    byMessage[msg] = (byMessage[msg] ?? 0) + 1;
  }
  const sessionsOpened = byMessage['session opened'] ?? 0;
  const bytes = Buffer.byteLength(text);
  return {
    lines,
    bytes,
    sessionsOpened,
    linesPerSession: sessionsOpened ? lines / sessionsOpened : null,
    bytesPerSession: sessionsOpened ? bytes / sessionsOpened : null,
    byMessage: Object.fromEntries(Object.entries(byMessage).sort((a, b) => b[1] - a[1]).slice(0, 15)),
  };
}

/** Gateway RSS growth from the first second to its peak, per buyer connected at the peak. */
export function rssPerBuyerKB(rows: { gatewayRssMB: number | null; connectedBuyers: number }[]): number | null {
  const rss = rows.map((r) => r.gatewayRssMB).filter((x): x is number => x !== null && Number.isFinite(x));
  const peakBuyers = Math.max(0, ...rows.map((r) => r.connectedBuyers));
  if (rss.length < 2 || peakBuyers < 10) return null;
  return ((Math.max(...rss) - rss[0]!) * 1024) / peakBuyers;
}
