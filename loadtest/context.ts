/** What simulated buyers and agents of one worker share: sockets, clocks, counters, ledger. */
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import type { WebSocketCtor } from '../src/client/socket.ts';
import { Ledger } from './ledger.ts';
import { LATENCIES, TICK_LATENCIES, newCounters, newHist, recordMs, type Histogram, type LatencyName, type TickLatencyName } from './stats.ts';
import type { Behaviour, Fixtures } from './types.ts';
import type { PlanTally } from './plan-run.ts';

export type Frame = { type: string; [k: string]: unknown };

export interface RoleTally {
  waited: number;
  reachedAgent: number;
  abandoned: number;
  timeToAgent: Histogram;
}

export class SimContext {
  readonly counters = newCounters();
  readonly hist = Object.fromEntries(LATENCIES.map((n) => [n, newHist()])) as Record<LatencyName, Histogram>;
  tickHist = SimContext.tickHists();
  readonly errors = { buyer: {} as Record<string, number>, agent: {} as Record<string, number> };
  readonly frames: Record<string, number> = {};
  readonly ledger: Ledger;
  readonly samples: { kind: string; detail: unknown }[] = [];
  /** Per-second deltas for ticks. */
  tick = { arrivals: 0, buyerMessages: 0, agentMessages: 0, assigned: 0, closed: 0 };
  /** Gauges. */
  connectedBuyers = 0;
  connectedAgents = 0;
  waiting = 0;
  chatting = 0;
  /** What a buyer's session went through, for samples of duplicates (set by the worker). */
  describeBuyer: ((sessionId: string) => Record<string, unknown> | undefined) | undefined;
  /** No new actions once set (the run is draining). */
  stopping = false;
  /** --plan: when an agent sent `accept` for a session (performance.now()), and the counted buyers' outcomes. */
  readonly acceptedAt = new Map<string, number>();
  readonly planTally: Record<string, PlanTally> = {};
  /** Per role a buyer asked for: who waited in line, reached an agent (and how fast), gave up. */
  readonly roles: Record<string, RoleTally> = {};
  private readonly key: Uint8Array;
  private addr = 0;

  constructor(
    readonly url: string,
    secret: string,
    readonly shop: string,
    readonly rand: () => number,
    readonly fx: Fixtures,
    readonly b: Behaviour,
    private readonly localAddresses: string[],
  ) {
    this.key = new TextEncoder().encode(secret);
    this.ledger = new Ledger({
      buyerToAgent: (ms) => this.record('buyerToAgent', ms),
      agentToBuyer: (ms) => this.record('agentToBuyer', ms),
      duplicate: (detail) => this.sample('duplicate', { ...detail, ...(this.describeBuyer?.(String(detail.sessionId)) ?? {}) }),
    });
  }

  static tickHists(): Record<TickLatencyName, Histogram> {
    return Object.fromEntries(TICK_LATENCIES.map((n) => [n, newHist()])) as Record<TickLatencyName, Histogram>;
  }

  role(role: string): RoleTally {
    return (this.roles[role] ??= { waited: 0, reachedAgent: 0, abandoned: 0, timeToAgent: newHist() });
  }

  record(name: LatencyName, ms: number): void {
    recordMs(this.hist[name], ms);
    if ((TICK_LATENCIES as readonly string[]).includes(name)) recordMs(this.tickHist[name as TickLatencyName], ms);
  }

  private readonly sampled = new Map<string, number>();

  /** Keeps the first few examples of each kind of finding for the report. */
  sample(kind: string, detail: unknown): void {
    const n = this.sampled.get(kind) ?? 0;
    this.sampled.set(kind, n + 1);
    if (n < 8) this.samples.push({ kind, detail });
  }

  countFrame(side: 'buyer' | 'agent', f: Frame): void {
    const k = `${side}.${f.type}`;
    this.frames[k] = (this.frames[k] ?? 0) + 1;
    if (f.type === 'error') {
      const code = String(f.code);
      this.errors[side][code] = (this.errors[side][code] ?? 0) + 1;
      if (code !== 'not_assigned' && code !== 'bad_state') this.sample(`${side}Error`, f);
    }
  }

  token(sub: string, kind: 'buyer' | 'agent', roles?: string[], vip = 0): Promise<string> {
    return new SignJWT({ shop: this.shop, kind, ...(roles ? { roles } : {}), ...(vip ? { vip } : {}) }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).sign(this.key);
  }

  /**
   * The WebSocket implementation the SDK clients get: `ws`, each socket from the next loopback
   * source address (spreads ephemeral ports), without compression as the gateway runs it.
   */
  readonly WebSocket: WebSocketCtor = (() => {
    const next = () => this.localAddresses[this.addr++ % this.localAddresses.length];
    return class extends WebSocket {
      constructor(url: string) {
        const localAddress = next();
        super(url, { perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
      }
    } as unknown as WebSocketCtor;
  })();

  /** setTimeout that does nothing once the run drains (unless `always`). */
  later(ms: number, fn: () => void, always = false): NodeJS.Timeout {
    return setTimeout(() => {
      if (this.stopping && !always) return;
      fn();
    }, Math.max(0, ms));
  }
}
