/** The coordinator's handle on its worker processes (forked `worker.ts`, run through tsx). */
import { fork, type ChildProcess } from 'node:child_process';
import type { FromWorker, ToWorker } from './types.ts';

type Handler = (worker: number, m: FromWorker) => void;

export class WorkerPool {
  readonly procs: ChildProcess[] = [];
  private readonly handlers = new Set<Handler>();
  readonly exited: Promise<void>[] = [];

  constructor(n: number) {
    const entry = new URL('./worker.ts', import.meta.url).pathname;
    for (let i = 0; i < n; i++) {
      const p = fork(entry, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      p.on('message', (m: FromWorker) => {
        if (m.type === 'fatal') process.stderr.write(`\nworker ${i}: ${m.message}\n`);
        for (const h of this.handlers) h(i, m);
      });
      this.exited.push(new Promise((resolve) => p.once('exit', () => resolve())));
      this.procs.push(p);
    }
  }

  get size(): number {
    return this.procs.length;
  }

  on(h: Handler): () => void {
    this.handlers.add(h);
    return () => this.handlers.delete(h);
  }

  send(i: number, m: ToWorker): void {
    this.procs[i]!.send(m);
  }

  broadcast(m: ToWorker): void {
    for (let i = 0; i < this.procs.length; i++) this.send(i, m);
  }

  /** Sends `m` (or makeMsg(i)) to every worker and resolves with each one's first reply of `type`. */
  async all<T extends FromWorker['type']>(
    m: ToWorker | ((i: number) => ToWorker),
    type: T,
    timeoutMs: number,
  ): Promise<Extract<FromWorker, { type: T }>[]> {
    const got: Extract<FromWorker, { type: T }>[] = new Array(this.size);
    let n = 0;
    let off = () => {};
    const done = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`workers did not answer ${type} within ${timeoutMs} ms`)), timeoutMs);
      off = this.on((i, r) => {
        if (r.type === 'fatal') {
          clearTimeout(t);
          reject(new Error(`worker ${i} failed: ${r.message}`));
        }
        if (r.type !== type || got[i]) return;
        got[i] = r as Extract<FromWorker, { type: T }>;
        if (++n === this.size) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    for (let i = 0; i < this.size; i++) this.send(i, typeof m === 'function' ? m(i) : m);
    try {
      await done;
    } finally {
      off();
    }
    return got;
  }

  async close(): Promise<void> {
    for (const p of this.procs) if (p.connected) p.send({ type: 'exit' } satisfies ToWorker);
    const t = setTimeout(() => this.procs.forEach((p) => p.kill('SIGKILL')), 5000);
    await Promise.all(this.exited);
    clearTimeout(t);
  }
}
