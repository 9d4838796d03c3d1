/**
 * HDR histograms (microsecond resolution, 3 significant digits) and the counters a worker
 * reports. Workers send histograms encoded (compressed base64); the coordinator decodes
 * and adds them, so percentiles are exact over all workers, not averaged.
 */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** The latency series every worker records. */
export const LATENCIES = ['connect', 'firstResponse', 'arrivalToGreeting', 'timeToAgent', 'buyerToAgent', 'agentToBuyer', 'timeToAgentVip', 'timeToAgentRegular'] as const;
export type LatencyName = (typeof LATENCIES)[number];

/** Time-series latencies (per second), a subset to keep ticks small. */
export const TICK_LATENCIES = ['firstResponse', 'buyerToAgent', 'agentToBuyer'] as const;
export type TickLatencyName = (typeof TICK_LATENCIES)[number];

export function newHist(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** Records a duration given in milliseconds. */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.round(ms * 1000)));
}

export function encodeHist(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHist(s: string): Histogram {
  return hdr.decodeFromCompressedBase64(s);
}

export function addEncoded(into: Histogram, encoded: string): void {
  const h = decodeHist(encoded);
  if (h.totalCount > 0) into.add(h);
  h.destroy();
}

export interface LatencySummary {
  count: number;
  /** All in milliseconds. */
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

const ms = (us: number) => Math.round(us) / 1000;

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, mean: NaN, p50: NaN, p90: NaN, p95: NaN, p99: NaN, p999: NaN, max: NaN };
  return {
    count: h.totalCount,
    mean: ms(h.mean),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}

/** Counters a worker keeps; all are summed across workers. */
export function newCounters() {
  return {
    buyersArrived: 0,
    buyersConnected: 0,
    /** Connection attempts that failed (each is retried up to 3 times with backoff). */
    buyerConnectErrors: 0,
    buyerConnectRetries: 0,
    buyersNeverConnected: 0,
    /** Arrivals held back because the connection cap was reached. */
    arrivalsDeferred: 0,
    buyersFirstMessageSent: 0,
    buyersGreeted: 0,
    greetedWithin6s: 0,
    /** Greeted within 6 s of arriving (connecting included). */
    greetedWithin6sOfArrival: 0,
    buyersReachedAgent: 0,
    buyersAbandoned: 0,
    /** Buyers whose token carried a VIP level (--vip-share). */
    buyersVip: 0,
    /** Buyers who closed the page while queued (--leave-share), and of them those who came back. */
    buyersLeftPage: 0,
    buyersBackFromPage: 0,
    buyersFaqOnlyDone: 0,
    /** Got `closed` (after rating, or the rating window ended, or an idle close). */
    buyersClosed: 0,
    /** Left after the rating invite without rating. */
    buyersLeftAfterInvite: 0,
    buyersStillWaitingAtEnd: 0,
    buyersNotGreetedAtEnd: 0,
    reconnects: 0,
    /** The gateway answered a buyer with a new session (the old one had ended meanwhile). */
    sessionRestarts: 0,
    /** …of which answered a line resent after a reconnect (see the report's findings). */
    resendsIntoNewSession: 0,
    ratings: 0,
    buyerMessagesSent: 0,
    buyerMessagesAcked: 0,
    /** Unacked lines sent again (same clientMsgId) after a reconnect. */
    buyerMessagesResent: 0,
    /** Lines of FAQ-only buyers (answered by the bot, never queued): not part of the agent check. */
    buyerMessagesBotOnly: 0,
    /** Distinct buyer messages that reached an agent (live or in an `assigned` transcript). */
    buyerMessagesReceivedByAgents: 0,
    /** …of which live (the others were in a transcript, sent while queued). */
    buyerMessagesLiveToAgents: 0,
    buyerMessagesLost: 0,
    buyerMessagesDuplicated: 0,
    /** Acked but never owned by an agent by the end (the session was still waiting). */
    buyerMessagesStillQueued: 0,
    agentMessagesSent: 0,
    agentMessagesAcked: 0,
    agentMessagesReceivedByBuyers: 0,
    agentMessagesLost: 0,
    agentMessagesDuplicated: 0,
    /** Agent lines to a buyer who had left (abandoned while queued): not deliverable. */
    agentMessagesToAbsentBuyers: 0,
    botMessagesReceivedByBuyers: 0,
    botMessagesDuplicated: 0,
    /** Transcript events an agent never saw although later ones reached it (any sender). */
    agentStreamGaps: 0,
    agentStreamDuplicates: 0,
    offers: 0,
    accepts: 0,
    declines: 0,
    revoked: 0,
    assigned: 0,
    transfers: 0,
    closes: 0,
    sessionClosedFrames: 0,
  };
}

export type Counters = ReturnType<typeof newCounters>;
export type CounterName = keyof Counters;

export function addCounters(into: Counters, from: Partial<Counters>): void {
  for (const [k, v] of Object.entries(from)) (into as Record<string, number>)[k] = ((into as Record<string, number>)[k] ?? 0) + (v as number);
}

export function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}
