/**
 * Child processes of a run (a private redis-server, the gateway, the bare ws relay) and the
 * sampling of their CPU and memory from /proc, plus Redis' own INFO.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect as netConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export const REPO_ROOT = new URL('..', import.meta.url).pathname;

/** Every child started here, from the moment it is spawned, so a failure or Ctrl-C can stop it. */
export const spawned = new Set<ChildProcess>();

function track(proc: ChildProcess): ChildProcess {
  spawned.add(proc);
  proc.once('exit', () => spawned.delete(proc));
  return proc;
}

/**
 * A port free to listen on, below the kernel's ephemeral range: a child binds it a moment
 * later, and a port the kernel hands out to outgoing connections can be taken in between by
 * one of the run's thousands of client sockets (a run's gateway once failed to start so).
 */
export async function freePort(): Promise<number> {
  let low = 32_768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: the ephemeral range's usual start
  }
  const from = 10_000;
  for (let i = 0; low - from > 1_000 && i < 50; i++) {
    const port = from + Math.floor(Math.random() * (low - from));
    if (await canListen(port)) return port;
  }
  return listenOn(0);
}

async function canListen(port: number): Promise<boolean> {
  return listenOn(port).then(
    () => true,
    () => false,
  );
}

function listenOn(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(bound));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Child {
  proc: ChildProcess;
  pid: number;
  port: number;
  stop(timeoutMs?: number): Promise<number | null>;
}

function stopper(proc: ChildProcess) {
  return (timeoutMs = 15_000) =>
    new Promise<number | null>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
      const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      proc.once('exit', (code) => {
        clearTimeout(t);
        resolve(code);
      });
      proc.kill('SIGTERM');
    });
}

/** A redis-server of our own on a free loopback port, nothing persisted; never the system one. */
export async function startRedisServer(): Promise<Child & { url: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'peakdesk-loadtest-redis-'));
  const proc = track(spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxclients', '10000', '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  ));
  const failed = new Promise<never>((_, reject) => {
    proc.once('error', (err) => reject(new Error(`cannot start redis-server (is it installed?): ${err.message}`)));
    proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await Promise.race([client.connect().then(() => client.ping()), failed]);
      break;
    } catch (err) {
      if (Date.now() > deadline || proc.exitCode !== null) throw err;
      client.disconnect();
      await sleep(50);
    }
  }
  client.disconnect();
  const stop = stopper(proc);
  return {
    proc,
    pid: proc.pid!,
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: async (t) => {
      const code = await stop(t);
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
async function waitForPort(port: number, proc: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`child exited with ${proc.exitCode ?? proc.signalCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = netConnect({ host: '127.0.0.1', port }, () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * A Node child running an entry: a TypeScript one through `--import tsx`, a `.js` one (the
 * built gateway) as is. With `env.PORT` set, ready once
 * that port accepts connections (whatever the log level); else once it logs a pino-style
 * `"msg":"listening"` line with its port. Its stdout goes to `logFile`.
 */
export async function startNodeChild(
  entry: string,
  env: NodeJS.ProcessEnv,
  nodeArgs: string[],
  logFile?: string,
): Promise<Child & { inspectorUrl?: string }> {
  const inspect = nodeArgs.some((x) => x.startsWith('--inspect'));
  const loader = entry.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const proc = track(spawn(process.execPath, [...nodeArgs, ...loader, entry], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', inspect ? 'pipe' : 'inherit'] }));
  const log = logFile ? createWriteStream(logFile) : undefined;
  // With --inspect the child's stderr names the inspector's WebSocket; the rest is passed on.
  const inspectorUrl = !inspect
    ? undefined
    : new Promise<string>((resolve) => {
        let buf = '';
        proc.stderr!.on('data', (d: Buffer) => {
          const text = d.toString();
          buf += text;
          const m = /Debugger listening on (ws:\/\/\S+)/.exec(buf);
          if (m) {
            resolve(m[1]!);
            buf = '';
          }
          if (!/Debugger (listening|attached)|For help, see/.test(text)) process.stderr.write(d);
        });
      });
  const fixed = Number(env.PORT) || 0;
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    let found = false;
    if (fixed) waitForPort(fixed, proc, 60_000).then(() => resolve(fixed), reject);
    proc.stdout!.on('data', (d: Buffer) => {
      log?.write(d);
      if (found || fixed) return;
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        if (line.includes('"msg":"listening"')) {
          found = true;
          buf = '';
          resolve(JSON.parse(line).port as number);
          return;
        }
      }
    });
    proc.once('exit', (code) => reject(new Error(`${entry} exited with ${code} before listening`)));
    proc.once('error', reject);
  });
  proc.once('exit', () => log?.end());
  return { proc, pid: proc.pid!, port, stop: stopper(proc), ...(inspectorUrl ? { inspectorUrl: await inspectorUrl } : {}) };
}

let clkTck = 0;
function ticksPerSecond(): number {
  if (!clkTck) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** CPU seconds (user+system, all threads) and resident memory of a process, from /proc. */
export function procStat(pid: number): { cpuS: number; rssMB: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the comm field: state is f[0]; utime and stime are fields 14 and 15 (1-based) → f[11], f[12].
    const cpuS = (Number(f[11]) + Number(f[12])) / ticksPerSecond();
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return { cpuS, rssMB: m ? Number(m[1]) / 1024 : NaN };
  } catch {
    return undefined;
  }
}

/** A process and its descendants (a cluster primary and its workers), from /proc. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const t of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** CPU seconds of a whole process tree so far (a cluster's primary and workers together). */
export function treeCpuSeconds(pid: number): number {
  return treeStat(pid)?.cpuS ?? NaN;
}

/** CPU seconds and RSS of a process and its descendants together. */
function treeStat(pid: number): { cpuS: number; rssMB: number } | undefined {
  const root = procStat(pid);
  if (!root) return undefined;
  const rest = processTree(pid).slice(1).map(procStat);
  return rest.reduce<{ cpuS: number; rssMB: number }>((t, s) => (s ? { cpuS: t.cpuS + s.cpuS, rssMB: t.rssMB + s.rssMB } : t), root);
}

/** Turns successive cumulative CPU readings into % of one core (`tree`: with the process's descendants, e.g. cluster workers). */
export class CpuMeter {
  private last: { cpuS: number; at: number } | undefined;
  constructor(
    private readonly pid: number,
    private readonly tree = false,
  ) {}
  private stat() {
    return this.tree ? treeStat(this.pid) : procStat(this.pid);
  }
  sample(): { cpuPct: number; rssMB: number } | undefined {
    const s = this.stat();
    if (!s) return undefined;
    const at = performance.now();
    const prev = this.last;
    this.last = { cpuS: s.cpuS, at };
    if (!prev) return { cpuPct: NaN, rssMB: s.rssMB };
    return { cpuPct: ((s.cpuS - prev.cpuS) / ((at - prev.at) / 1000)) * 100, rssMB: s.rssMB };
  }
  total(): number {
    return this.stat()?.cpuS ?? NaN;
  }
}

export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** `cmdstat_evalsha:calls=12,usec=…` → { evalsha: 12, … } */
export function commandCalls(info: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(info)) {
    if (!k.startsWith('cmdstat_')) continue;
    const m = /calls=(\d+)/.exec(v);
    if (m) out[k.slice(8)] = Number(m[1]);
  }
  return out;
}

/** Redis seen from its INFO: CPU (its own counters), memory, clients, command counts. */
export class RedisProbe {
  readonly client: Redis;
  private last: { cpuS: number; at: number } | undefined;
  pid = 0;

  constructor(url: string) {
    this.client = new Redis(url, { maxRetriesPerRequest: 1, connectionName: 'peakdesk-loadtest-probe' });
    this.client.on('error', () => {});
  }

  async info(): Promise<Record<string, string>> {
    return parseInfo(await this.client.info('everything'));
  }

  async sample(): Promise<{ cpuPct: number; usedMemoryMB: number; rssMB: number; clients: number; info: Record<string, string> } | undefined> {
    try {
      const info = await this.info();
      if (!this.pid) this.pid = Number(info.process_id) || 0;
      const cpuS = Number(info.used_cpu_sys) + Number(info.used_cpu_user);
      const at = performance.now();
      const prev = this.last;
      this.last = { cpuS, at };
      return {
        cpuPct: prev ? ((cpuS - prev.cpuS) / ((at - prev.at) / 1000)) * 100 : NaN,
        usedMemoryMB: Number(info.used_memory) / 1048576,
        rssMB: Number(info.used_memory_rss) / 1048576,
        clients: Number(info.connected_clients),
        info,
      };
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}

/** The soft and hard limits on open files of this process (children inherit them). */
export function fdLimits(): { soft: number; hard: number } {
  try {
    const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    const n = (s: string | undefined) => (s === 'unlimited' || !s ? Infinity : Number(s));
    return { soft: n(m?.[1]), hard: n(m?.[2]) };
  } catch {
    return { soft: NaN, hard: NaN };
  }
}

/** Whole-machine CPU use from /proc/stat, in % of one core (so 200% = both cores of a 2-core machine). */
export class MachineMeter {
  private last: { busy: number; irq: number; total: number } | undefined;
  /** The last sample's interrupt time (irq + softirq: loopback networking mostly), % of one core. */
  irqPct = 0;
  private read(): { busy: number; irq: number; total: number } | undefined {
    try {
      const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
      const v = line.trim().split(/\s+/).slice(1).map(Number);
      const idle = (v[3] ?? 0) + (v[4] ?? 0);
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
      return { busy: total - idle, irq: (v[5] ?? 0) + (v[6] ?? 0), total };
    } catch {
      return undefined;
    }
  }
  /** Busy share (interrupt time excluded) since the last call × number of CPUs × 100. */
  sample(cpus: number): number | undefined {
    const now = this.read();
    if (!now) return undefined;
    const prev = this.last;
    this.last = now;
    if (!prev || now.total === prev.total) return undefined;
    const span = now.total - prev.total;
    this.irqPct = ((now.irq - prev.irq) / span) * cpus * 100;
    return ((now.busy - prev.busy - (now.irq - prev.irq)) / span) * cpus * 100;
  }
}

/** Machine-wide count of connections dropped because a listener's accept queue was full (TcpExt ListenOverflows). */
export function listenOverflows(): number | undefined {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      if (!lines[i]!.startsWith('TcpExt:')) continue;
      const keys = lines[i]!.split(/\s+/);
      const vals = lines[i + 1]!.split(/\s+/);
      const k = keys.indexOf('ListenOverflows');
      return k > 0 ? Number(vals[k]) : undefined;
    }
  } catch {
    // not Linux
  }
  return undefined;
}

/**
 * The node flags the gateway runs with where the shop runs it (`npm start` in package.json, the
 * image's ENTRYPOINT; test/node-flags.test.ts keeps the three alike). `--gateway-node-args`
 * come after these, so a flag given there wins.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];

/**
 * The gateway as `npm start` runs it: compiled (dist/main.js), built first when dist/ is older
 * than its sources. Run through tsx instead, every function the gateway makes would also pay
 * esbuild's name-keeping helper, a cost the shop's gateway does not have.
 */
export function builtGateway(log: (line: string) => void): string {
  const stale = execFileSync(process.execPath, ['scripts/stale.mjs'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim() === 'stale';
  if (stale) {
    log('dist/ is older than the sources: building the gateway (npm run build)…');
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: REPO_ROOT, stdio: ['ignore', 2, 'inherit'] });
  }
  return 'dist/main.js';
}
