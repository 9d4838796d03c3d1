/**
 * `--webhooks`: a local receiver of the gateway's event webhooks (every event type), so a run
 * measures delivery with all events on: latency from the state change (the event's `ts`, the
 * gateway's clock on this machine) to receipt, throughput, signatures, duplicates.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WEBHOOK_EVENTS } from '../src/config/webhooks-schema.ts';
import { REPO_ROOT } from './processes.ts';
import { newHist, recordMs, summarize, type LatencySummary } from './stats.ts';

export interface WebhookSummary {
  received: number;
  unique: number;
  duplicates: number;
  badSignatures: number;
  byType: Record<string, number>;
  latency: LatencySummary;
  perSecond: { mean: number; peak: number };
}

export class WebhookReceiver {
  private server!: Server;
  private readonly secret = 'loadtest-webhook-secret-0123456789';
  private readonly seen = new Set<string>();
  private readonly hist = newHist();
  private readonly perSecond = new Map<number, number>();
  private readonly byType: Record<string, number> = {};
  private received = 0;
  private badSignatures = 0;
  lastAt = 0;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const now = Date.now();
        const raw = Buffer.concat(chunks);
        const expected = Buffer.from(`sha256=${createHmac('sha256', this.secret).update(raw).digest('hex')}`);
        const got = Buffer.from(String(req.headers['x-peakdesk-signature'] ?? ''));
        if (got.length !== expected.length || !timingSafeEqual(got, expected)) this.badSignatures++;
        const e = JSON.parse(raw.toString('utf8')) as { id: string; type: string; ts: number };
        this.received++;
        this.lastAt = now;
        if (!this.seen.has(e.id)) {
          this.seen.add(e.id);
          recordMs(this.hist, Math.max(0, now - e.ts));
          this.byType[e.type] = (this.byType[e.type] ?? 0) + 1;
          const sec = Math.floor(now / 1000);
          this.perSecond.set(sec, (this.perSecond.get(sec) ?? 0) + 1);
        }
        res.writeHead(204).end();
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
  }

  /** The gateway config (`base`, or config/default.json) with one subscriber to every event here; returns its path. */
  writeConfig(url: string, base: string | undefined, dir: string): string {
    const doc = JSON.parse(readFileSync(base ?? join(REPO_ROOT, 'config/default.json'), 'utf8')) as Record<string, unknown>;
    doc.webhooks = [{ url, secret: this.secret, events: [...WEBHOOK_EVENTS] }];
    const path = join(dir, 'gateway-config.json');
    writeFileSync(path, JSON.stringify(doc, null, 2));
    return path;
  }

  /** Waits until nothing has arrived for quietMs (at most maxMs): deliveries still in flight land first. */
  async drain(quietMs: number, maxMs: number): Promise<void> {
    const end = Date.now() + maxMs;
    while (Date.now() < end && Date.now() - this.lastAt < quietMs) await new Promise((r) => setTimeout(r, 200));
  }

  summary(): WebhookSummary {
    const counts = [...this.perSecond.values()];
    const span = counts.length ? Math.max(...this.perSecond.keys()) - Math.min(...this.perSecond.keys()) + 1 : 0;
    return {
      received: this.received,
      unique: this.seen.size,
      duplicates: this.received - this.seen.size,
      badSignatures: this.badSignatures,
      byType: this.byType,
      latency: summarize(this.hist),
      perSecond: { mean: span ? this.seen.size / span : 0, peak: counts.length ? Math.max(...counts) : 0 },
    };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

/** The console line of a run with --webhooks. */
export function webhookLine(w: WebhookSummary): string {
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
  const types = Object.entries(w.byType).map(([t, n]) => `${t} ${n}`).join(', ');
  return [
    `webhooks: ${w.unique} events (${types}); ${w.duplicates} duplicates, ${w.badSignatures} bad signatures`,
    `  delivery (change → receipt) p50 ${f(w.latency.p50)} ms, p99 ${f(w.latency.p99)} ms, max ${f(w.latency.max)} ms; events/s mean ${f(w.perSecond.mean)}, peak ${w.perSecond.peak}`,
  ].join('\n');
}
