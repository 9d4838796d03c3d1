import { Outbox } from './session-state.ts';
import { ReconnectingSocket, type ConnStatus, type WebSocketCtor } from './socket.ts';

/** What both clients take. */
export interface ClientOptions<F> {
  /** The gateway, `ws://host:port` or `wss://…` (the endpoint's path is added). */
  url: string;
  token: () => string | Promise<string>;
  /** Default: globalThis.WebSocket; on Node 20 pass `ws`'s WebSocket. */
  WebSocket?: WebSocketCtor;
  /**
   * Every frame, in order. Transcript events the client has already seen (a resume's replay
   * overlapping what arrived live) are left out unless `duplicates` is true.
   */
  onFrame: (frame: F) => void;
  onStatus?: (status: ConnStatus) => void;
  /** Pass seen-before transcript events on too (the load tool counts them). */
  duplicates?: boolean;
  heartbeat?: { pingEveryMs: number; silenceLimitMs: number } | false;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A line answered `unavailable` or `rate_limited` goes again after this long (default 2000). */
  retryLineMs?: number;
}

/** The connection part of AgentClient and BuyerClient: one ReconnectingSocket to `path`. */
export abstract class ClientBase<F extends { type: string }> {
  protected readonly socket: ReconnectingSocket<F>;
  protected readonly outbox = new Outbox();

  constructor(
    protected readonly o: ClientOptions<F>,
    path: '/v1/agent' | '/v1/buyer',
  ) {
    const optional = <K extends 'WebSocket' | 'onStatus' | 'heartbeat' | 'baseDelayMs' | 'maxDelayMs'>(k: K) =>
      o[k] !== undefined ? { [k]: o[k] } : {};
    this.socket = new ReconnectingSocket<F>({
      url: `${o.url.replace(/\/$/, '')}${path}`,
      token: o.token,
      onFrame: (f) => this.onFrame(f),
      ...optional('WebSocket'),
      ...optional('onStatus'),
      ...optional('heartbeat'),
      ...optional('baseDelayMs'),
      ...optional('maxDelayMs'),
    });
  }

  protected abstract onFrame(f: F): void;

  /** An `error` frame: a line refused for now goes again a little later, if still unacked then. */
  protected lineError(ref: string | undefined, code: string, message: string): void {
    const line = this.outbox.refused(ref, code, message);
    if (!line) return;
    setTimeout(() => {
      if (this.outbox.has(line)) this.socket.send(line.frame);
    }, this.o.retryLineMs ?? 2_000);
  }

  start(): void {
    this.socket.start();
  }

  stop(): void {
    this.socket.stop();
  }

  get isOpen(): boolean {
    return this.socket.isOpen;
  }

  /** Drops the connection as a network failure would (it comes back and resumes). */
  drop(): void {
    this.socket.drop();
  }

  /** Any other frame (newer protocol additions); false when not connected. */
  send(frame: { type: string } & Record<string, unknown>): boolean {
    return this.socket.send(frame);
  }
}
