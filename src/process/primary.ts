import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:net';
import type { Logger } from 'pino';
import { EXIT } from './exit-codes.ts';

export interface PrimaryOptions {
  workers: number;
  host: string;
  port: number;
  /** The worker's module (this program's entry point). */
  entry: string;
  /** One secret for every worker, so a token works whichever worker a connection lands on. */
  secret: string;
  /** server.shutdownGraceMs: how long a worker may take to drain before it is killed. */
  graceMs: number;
  logger: Logger;
  exit: (code: number) => never;
  /** Runs once, when every worker accepts connections. */
  onListening(port: number): Promise<void> | void;
}

const RESTART_BASE_MS = 250;
const RESTART_MAX_MS = 10_000;
/** A worker that ran this long before it died starts its backoff afresh. */
const HEALTHY_AFTER_MS = 30_000;

/** A free port on `host`, so that every worker (and every replacement) listens on the same one. */
async function freePort(host: string): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ host, port: 0 }, () => resolve());
  });
  const addr = probe.address();
  await new Promise((r) => probe.close(r));
  if (typeof addr !== 'object' || !addr) throw new Error('could not pick a free port');
  return addr.port;
}

/**
 * PEAKDESK_WORKERS > 1: this process only supervises. It forks full gateway instances that
 * share the port (node:cluster hands each connection to one of them), replaces one that
 * dies (with backoff), and on SIGTERM/SIGINT drains them all, killing any still running after
 * the grace period.
 */
export async function runPrimary(o: PrimaryOptions): Promise<void> {
  const { logger } = o;
  const port = o.port === 0 ? await freePort(o.host) : o.port;
  // The workers accept from the shared socket themselves (the kernel spreads connections).
  // Node's default on Linux, round-robin, has this process accept every connection and pass
  // it to a worker over IPC: at a midnight burst (~2,000 connections a second) that one
  // event loop became the bottleneck (a reference run with 2 workers: no SYN dropped by the
  // kernel, yet half the buyers waited 39 s for their socket to open).
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ exec: o.entry, args: [] });
  const env = { PORT: String(port), PEAKDESK_AUTH_SECRET: o.secret };
  const slots: (Worker | undefined)[] = Array.from({ length: o.workers });
  const failures = new Array<number>(o.workers).fill(0);
  const startedAt = new Array<number>(o.workers).fill(0);
  const ready = new Set<number>();
  let announced = false;
  let stopping = false;
  let exitCode: number = EXIT.ok;

  const finishIfDone = () => {
    if (stopping && slots.every((w) => !w)) {
      logger.info({ workers: o.workers }, 'stopped');
      o.exit(exitCode);
    }
  };

  const fork = (slot: number): void => {
    const w = cluster.fork({ ...env, PEAKDESK_WORKER_SLOT: String(slot) });
    slots[slot] = w;
    startedAt[slot] = Date.now();
    w.on('message', (m: unknown) => {
      if ((m as { peakdesk?: string } | null)?.peakdesk !== 'listening') return;
      ready.add(slot);
      logger.info({ slot, pid: w.process.pid }, 'worker ready');
      if (!announced && ready.size === o.workers) {
        announced = true;
        void o.onListening(port);
      }
    });
    w.on('exit', (code, signal) => {
      ready.delete(slot);
      slots[slot] = undefined;
      if (stopping) {
        if (code && code !== EXIT.ok) exitCode = EXIT.failed;
        finishIfDone();
        return;
      }
      if (code === EXIT.config || code === EXIT.unavailable) {
        // It would fail the same way again: stop everything and say why (the worker logged it).
        logger.fatal({ slot, code }, 'a worker could not start; stopping');
        stopAll(code);
        return;
      }
      failures[slot] = Date.now() - startedAt[slot]! > HEALTHY_AFTER_MS ? 1 : failures[slot]! + 1;
      const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (failures[slot]! - 1));
      logger.error({ slot, pid: w.process.pid, code, signal, restartInMs: delay }, 'worker exited; starting a replacement');
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delay);
    });
  };

  const stopAll = (code: number): void => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const w of slots) w?.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of slots) w?.process.kill('SIGKILL');
    }, o.graceMs + 1_000).unref();
    finishIfDone();
  };

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      logger.info({ signal, workers: o.workers }, 'shutting down');
      stopAll(EXIT.ok);
    });
  }
  process.on('SIGHUP', () => slots.forEach((w) => w?.process.kill('SIGHUP')));

  logger.info({ workers: o.workers, port }, 'starting workers');
  for (let slot = 0; slot < o.workers; slot++) fork(slot);
}
