/**
 * The run's per-second timeline: workers' ticks (counts, gauges, interval histograms) and the
 * coordinator's resource samples folded into one row per second of the run.
 */
import type { TimelineRow } from './report.ts';
import { TICK_LATENCIES, addEncoded, newHist, summarize } from './stats.ts';
import type { Tick } from './types.ts';

interface Row extends TimelineRow {
  /** The latest gauges of each worker in this second (summed over workers into the row). */
  gauges: Record<number, { connectedBuyers: number; connectedAgents: number; waiting: number; chatting: number }>;
  /** Encoded interval histograms of each worker, merged when the second is final. */
  hists: Record<string, string[]>;
  done: boolean;
}

const r1 = (n: number) => Math.round(n * 10) / 10;

export class Timeline {
  private readonly rows = new Map<number, Row>();

  constructor(
    private readonly planned: number[],
    private readonly workers: number,
  ) {}

  row(sec: number): TimelineRow {
    return this.get(sec);
  }

  has(sec: number): boolean {
    return this.rows.has(sec);
  }

  private get(sec: number): Row {
    let r = this.rows.get(sec);
    if (!r) {
      const W = this.workers;
      r = {
        sec,
        plannedArrivals: r1(this.planned[sec] ?? 0),
        arrivals: 0,
        buyerMessages: 0,
        agentMessages: 0,
        assigned: 0,
        closed: 0,
        connectedBuyers: 0,
        connectedAgents: 0,
        waiting: 0,
        chatting: 0,
        firstResponse: { p50: null, p99: null },
        buyerToAgent: { p50: null, p99: null },
        agentToBuyer: { p50: null, p99: null },
        gatewayCpuPct: null,
        gatewayRssMB: null,
        redisCpuPct: null,
        redisRssMB: null,
        redisUsedMemoryMB: null,
        toolCpuPct: new Array(W).fill(null),
        machineCpuPct: null,
        otherCpuPct: null,
        toolElu: new Array(W).fill(null),
        toolLoopDelayP99Ms: new Array(W).fill(null),
        gauges: {},
        hists: {},
        done: false,
      };
      this.rows.set(sec, r);
    }
    return r;
  }

  add(t: Tick): void {
    const r = this.get(Math.max(0, t.sec));
    r.arrivals += t.arrivals;
    r.buyerMessages += t.buyerMessages;
    r.agentMessages += t.agentMessages;
    r.assigned += t.assigned;
    r.closed += t.closed;
    r.gauges[t.worker] = { connectedBuyers: t.connectedBuyers, connectedAgents: t.connectedAgents, waiting: t.waiting, chatting: t.chatting };
    const gs = Object.values(r.gauges);
    r.connectedBuyers = gs.reduce((n, g) => n + g.connectedBuyers, 0);
    r.connectedAgents = gs.reduce((n, g) => n + g.connectedAgents, 0);
    r.waiting = gs.reduce((n, g) => n + g.waiting, 0);
    r.chatting = gs.reduce((n, g) => n + g.chatting, 0);
    r.toolCpuPct[t.worker] = r1(t.cpuPct);
    r.toolElu[t.worker] = Math.round(t.elu * 1000) / 1000;
    r.toolLoopDelayP99Ms[t.worker] = r1(t.loopDelayP99Ms);
    for (const [k, v] of Object.entries(t.hist)) (r.hists[k] ??= []).push(v);
  }

  /** Merges a second's histograms into its percentiles (once all workers' ticks are in). */
  finalize(sec: number): void {
    const r = this.rows.get(sec);
    if (!r || r.done) return;
    for (const name of TICK_LATENCIES) {
      const enc = r.hists[name];
      if (!enc?.length) continue;
      const h = newHist();
      for (const e of enc) addEncoded(h, e);
      const s = summarize(h);
      h.destroy();
      r[name] = { p50: s.p50, p99: s.p99 };
    }
    r.hists = {};
    r.done = true;
  }

  /** Every second, finalized, in order. */
  rowsInOrder(): TimelineRow[] {
    for (const sec of this.rows.keys()) this.finalize(sec);
    return [...this.rows.values()].sort((x, y) => x.sec - y.sec).map(({ hists: _h, done: _d, gauges: _g, ...r }) => r);
  }
}
