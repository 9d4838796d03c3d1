/**
 * A WebSocket to the gateway that comes back by itself: exponential backoff with jitter
 * (0.5 s doubling up to 15 s, reset once the app says the server accepted it), an immediate
 * retry when a browser comes back online, and a heartbeat (`ping` every 20 s; a connection
 * silent for 45 s is given up and replaced). Runs in browsers (their WebSocket) and on Node
 * (pass `ws`'s WebSocket: Node 20 has no global one).
 *
 * When a connection fails before it opens, one plain HTTP request to the same address tells
 * why, which the WebSocket API hides: the gateway answers a refused token with 401/403
 * (`refused`: retrying cannot help, so it stops), or it cannot be reached at all.
 */

/**
 * The part of the WebSocket API this uses; browsers' and `ws`'s both have it. The handlers'
 * event types differ between the two (DOM events vs ws's), hence `any` there; this code reads
 * only `data` of a message event and `code` of a close event.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
}
/* eslint-enable @typescript-eslint/no-explicit-any */
export type WebSocketCtor = new (url: string) => WebSocketLike;

const OPEN = 1;

/** Why the last attempt did not give a usable connection. */
export type FailureReason = 'unreachable' | 'closed' | 'failed';

export type ConnStatus =
  | { state: 'connecting'; attempt: number }
  | { state: 'open' }
  | { state: 'waiting'; retryAt: number; attempt: number; everOpened: boolean; reason: FailureReason; code?: number }
  | { state: 'refused'; httpStatus: number; message: string }
  | { state: 'stopped' };

export interface SocketOptions<F> {
  /** `ws://host:port/v1/agent` (or `/v1/buyer`); the token is added as `?token=`. */
  url: string | (() => string);
  token: () => string | Promise<string>;
  /** Default: globalThis.WebSocket (browsers, Node 22+). */
  WebSocket?: WebSocketCtor;
  onFrame: (frame: F) => void;
  onStatus?: (status: ConnStatus) => void;
  /** Called on every (re)open, before any frame of that connection. */
  onOpen?: () => void;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** `false`: no client pings (the server's own pings keep the connection checked). */
  heartbeat?: { pingEveryMs: number; silenceLimitMs: number } | false;
  /** For telling a refused token from an unreachable gateway; default globalThis.fetch. */
  fetch?: typeof fetch;
}

const DEFAULTS = { baseDelayMs: 500, maxDelayMs: 15_000, heartbeat: { pingEveryMs: 20_000, silenceLimitMs: 45_000 } };

export class ReconnectingSocket<F extends { type: string }> {
  private ws: WebSocketLike | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  private stopped = true;
  private opened = false;
  private generation = 0;

  constructor(private readonly o: SocketOptions<F>) {
    const g = globalThis as { addEventListener?: (type: string, fn: () => void) => void };
    g.addEventListener?.('online', () => {
      if (!this.stopped && !this.ws) void this.connectNow();
    });
  }

  start(): void {
    this.stopped = false;
    void this.connectNow();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    this.abandon();
    this.o.onStatus?.({ state: 'stopped' });
  }

  get isOpen(): boolean {
    return this.ws?.readyState === OPEN;
  }

  /** Sends a frame if the socket is open; returns whether it went out. */
  send(frame: object): boolean {
    if (!this.ws || this.ws.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** The server accepted us (welcome): the next outage starts again from the shortest delay. */
  healthy(): void {
    this.attempt = 0;
  }

  /** Drops the current socket as a network failure would (reconnects with backoff). For demos and tests. */
  drop(): void {
    if (!this.ws) return;
    this.abandon();
    this.scheduleRetry('closed');
  }

  private address(token: string): string {
    const base = typeof this.o.url === 'function' ? this.o.url() : this.o.url;
    return `${base}${base.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
  }

  private async connectNow(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.abandon();
    const generation = ++this.generation;
    this.o.onStatus?.({ state: 'connecting', attempt: this.attempt });
    let url: string;
    let ws: WebSocketLike;
    try {
      url = this.address(await this.o.token());
      if (generation !== this.generation || this.stopped) return;
      const Impl = this.o.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
      if (!Impl) throw new Error('no WebSocket implementation: pass one (e.g. the `ws` package) as the WebSocket option');
      ws = new Impl(url);
    } catch {
      this.scheduleRetry('failed');
      return;
    }
    this.ws = ws;
    this.opened = false;
    ws.onopen = () => {
      this.opened = true;
      this.lastHeard = Date.now();
      this.o.onStatus?.({ state: 'open' });
      this.o.onOpen?.();
    };
    ws.onmessage = (ev: { data: unknown }) => {
      this.lastHeard = Date.now();
      let frame: F;
      try {
        frame = JSON.parse(String(ev.data)) as F;
      } catch {
        return;
      }
      this.o.onFrame(frame);
    };
    ws.onclose = (ev: { code: number }) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.opened) this.scheduleRetry('closed', ev.code);
      else void this.diagnose(url);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
    clearInterval(this.heartbeat);
    const hb = this.o.heartbeat === undefined ? DEFAULTS.heartbeat : this.o.heartbeat;
    if (hb) this.heartbeat = setInterval(() => this.beat(hb.silenceLimitMs), hb.pingEveryMs);
  }

  /** The upgrade failed: ask the same address over plain HTTP what is wrong. */
  private async diagnose(wsUrl: string): Promise<void> {
    const doFetch = this.o.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;
    if (!doFetch) return this.scheduleRetry('failed');
    let status: number;
    let message = '';
    try {
      const res = await doFetch(wsUrl.replace(/^ws/, 'http'));
      status = res.status;
      if (status === 401 || status === 403) message = ((await res.json().catch(() => ({}))) as { message?: string }).message ?? '';
    } catch {
      return this.scheduleRetry('unreachable');
    }
    if (this.stopped) return;
    if (status === 401 || status === 403) {
      clearInterval(this.heartbeat);
      this.stopped = true;
      this.o.onStatus?.({ state: 'refused', httpStatus: status, message });
      return;
    }
    this.scheduleRetry('failed');
  }

  private beat(silenceLimitMs: number): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return;
    if (Date.now() - this.lastHeard > silenceLimitMs) {
      this.drop();
      return;
    }
    ws.send('{"type":"ping"}');
  }

  /** Forgets the current socket without waiting for its close handshake. */
  private abandon(): void {
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    // Closed while still connecting, a socket reports an error afterwards (Node's ws throws
    // one that nobody listens to): it goes nowhere.
    ws.onerror = () => {};
    try {
      ws.close();
    } catch {
      /* already closing */
    }
  }

  private scheduleRetry(reason: FailureReason, code?: number): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const base = Math.min(this.o.maxDelayMs ?? DEFAULTS.maxDelayMs, (this.o.baseDelayMs ?? DEFAULTS.baseDelayMs) * 2 ** this.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt++;
    this.o.onStatus?.({
      state: 'waiting',
      retryAt: Date.now() + delay,
      attempt: this.attempt,
      everOpened: this.opened,
      reason,
      ...(code !== undefined ? { code } : {}),
    });
    this.retryTimer = setTimeout(() => void this.connectNow(), delay);
  }
}
