import WebSocket from 'ws';
import type { z } from 'zod';
import { agentOutbound, buyerOutbound } from '../../src/protocol/frames.ts';

type Frame = Record<string, any> & { type: string };

/**
 * A protocol client for tests. Every frame the server sends is checked against the
 * outbound schema of its endpoint, so a test fails on any frame that breaks the contract.
 */
export class TestClient {
  readonly frames: Frame[] = [];
  readonly violations: string[] = [];
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private readonly taken = new Set<Frame>();
  closed: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly ws: WebSocket,
    schema: z.ZodType<unknown>,
  ) {
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as Frame;
      const check = schema.safeParse(f);
      if (!check.success) this.violations.push(`${f.type}: ${check.error.message}`);
      this.frames.push(f);
      // A frame goes to the first waiter it matches; later waiters wait for later frames.
      const w = this.waiters.find((x) => x.match(f));
      if (w) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(f);
      }
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async connect(url: string, kind: 'buyer' | 'agent', token: string, opts: { query?: boolean } = {}): Promise<TestClient> {
    const target = `${url}/v1/${kind}${opts.query ? `?token=${encodeURIComponent(token)}` : ''}`;
    const ws = new WebSocket(target, opts.query ? {} : { headers: { authorization: `Bearer ${token}` } });
    const client = new TestClient(ws, kind === 'buyer' ? buyerOutbound : agentOutbound);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return client;
  }

  send(frame: object | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The oldest frame not yet taken matching `type` and `pred`, waiting up to `ms`. */
  async next(type: string, pred: (f: Frame) => boolean = () => true, ms = 5_000): Promise<Frame> {
    const match = (f: Frame) => f.type === type && pred(f);
    const waiting = this.frames.find((f) => !this.taken.has(f) && match(f));
    if (waiting) {
      this.taken.add(waiting);
      return waiting;
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no ${type} frame within ${ms} ms; got: ${this.frames.map((f) => f.type).join(', ')}`));
      }, ms);
      const waiter = {
        match,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          this.taken.add(f);
          resolve(f);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Every frame of `type` received so far. */
  all(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.closed;
  }
}

/** Resolves once `cond` holds, polling; for effects that have no frame of their own. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
