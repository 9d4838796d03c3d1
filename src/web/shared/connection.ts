/**
 * A WebSocket to the gateway that comes back by itself: exponential backoff with jitter
 * (0.5 s doubling up to 15 s, reset once the server says `welcome`), an immediate retry when
 * the browser comes back online, and a heartbeat (`ping` every 20 s; a connection silent for
 * 45 s is given up and replaced). What to do after a (re)connect is the page's business: it
 * gets every frame, `welcome` included, and resumes from there.
 */

export type ConnStatus =
  | { state: 'connecting'; attempt: number }
  | { state: 'open' }
  | { state: 'waiting'; retryAt: number; attempt: number; everOpened: boolean }
  | { state: 'stopped' };

export interface ConnectionOptions<F> {
  /** `/v1/agent` or `/v1/buyer`. */
  path: string;
  token: () => string;
  onFrame: (frame: F) => void;
  onStatus: (status: ConnStatus) => void;
}

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;
const PING_EVERY_MS = 20_000;
const SILENCE_LIMIT_MS = 45_000;

export class Connection<F extends { type: string }> {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  private stopped = true;
  private opened = false;

  constructor(private readonly o: ConnectionOptions<F>) {
    addEventListener('online', () => {
      if (!this.stopped && !this.ws) this.connectNow();
    });
  }

  start(): void {
    this.stopped = false;
    this.connectNow();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    this.abandon();
    this.o.onStatus({ state: 'stopped' });
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends a frame if the socket is open; returns whether it went out. */
  send(frame: object): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
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
    this.scheduleRetry();
  }

  private connectNow(): void {
    clearTimeout(this.retryTimer);
    this.abandon();
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${location.host}${this.o.path}?token=${encodeURIComponent(this.o.token())}`;
    this.o.onStatus({ state: 'connecting', attempt: this.attempt });
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    this.opened = false;
    ws.onopen = () => {
      this.opened = true;
      this.lastHeard = Date.now();
      this.o.onStatus({ state: 'open' });
    };
    ws.onmessage = (ev: MessageEvent) => {
      this.lastHeard = Date.now();
      let frame: F;
      try {
        frame = JSON.parse(String(ev.data)) as F;
      } catch {
        return;
      }
      this.o.onFrame(frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.scheduleRetry();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.beat(), PING_EVERY_MS);
  }

  private beat(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
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
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close();
    } catch {
      /* already closing */
    }
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const base = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt++;
    this.o.onStatus({ state: 'waiting', retryAt: Date.now() + delay, attempt: this.attempt, everOpened: this.opened });
    this.retryTimer = setTimeout(() => this.connectNow(), delay);
  }
}
