/**
 * Throwaway redis-server processes for integration tests.
 *
 * Every server started here listens on a fresh loopback port with its own
 * temp dir. Readiness probes check that the process answering on the port
 * is the one we spawned (INFO process_id == child pid). That way a test can
 * never end up talking to some other Redis, like the system one on 6379.
 *
 * Cleanup, from most to least graceful:
 *  - stop() / cluster.stop(): SIGTERM, wait, SIGKILL after 3 s, remove dir.
 *  - process 'exit' (and SIGINT/SIGTERM/SIGHUP): SIGKILL every live child, remove dirs.
 *  - a detached watchdog process that notices when this process disappears
 *    (stdin EOF, e.g. after a SIGKILL of the test worker) and kills what is left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RedisHandle {
  url: string;
  host: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  /** Stops the process but keeps its port and dir, to simulate an outage; restart() brings it back. */
  kill(): Promise<void>;
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  appendonly?: boolean;
  appendfsync?: 'always' | 'everysec';
  extraArgs?: string[];
}

export interface RedisClusterHandle {
  nodes: { host: string; port: number }[];
  /** One handle per node (masters and replicas), e.g. to kill one. */
  servers: RedisHandle[];
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;
const PORT_ATTEMPTS = 5;
const CLUSTER_READY_TIMEOUT_MS = 15_000;
const OUTPUT_LIMIT = 16_384;

// ---------------------------------------------------------------------------
// Process registry + emergency cleanup (shared across module instances that
// vitest may create in one worker process).
// ---------------------------------------------------------------------------

interface Registry {
  children: Set<ChildProcess>;
  dirs: Set<string>;
  watchdog: ChildProcess | null;
  watchdogFailed: boolean;
}

const REGISTRY_KEY = Symbol.for('peakdesk.test.redis-server.registry');

function registry(): Registry {
  const g = globalThis as typeof globalThis & { [REGISTRY_KEY]?: Registry };
  let reg = g[REGISTRY_KEY];
  if (!reg) {
    const created: Registry = { children: new Set(), dirs: new Set(), watchdog: null, watchdogFailed: false };
    reg = created;
    g[REGISTRY_KEY] = created;
    const emergencyCleanup = (): void => {
      for (const child of created.children) {
        try {
          child.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
      created.children.clear();
      for (const dir of created.dirs) {
        try {
          rmSync(dir, { recursive: true, force: true });
        } catch {
          /* best effort */
        }
      }
      created.dirs.clear();
    };
    process.on('exit', emergencyCleanup);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const onSignal = (): void => {
        emergencyCleanup();
        process.removeListener(sig, onSignal);
        // Only re-raise if nobody else handles this signal; otherwise leave it to them.
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
      };
      process.on(sig, onSignal);
    }
  }
  return reg;
}

// Runs in a separate, detached node process. It reads "+pid N", "-pid N",
// "+dir D", "-dir D" lines on stdin. On EOF (the parent is gone) it SIGKILLs
// the remaining pids and removes the remaining dirs.
const WATCHDOG_SOURCE = `
const fs = require('node:fs');
const pids = new Set(); const dirs = new Set(); let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d; let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    const op = line.slice(0, 4); const val = line.slice(5);
    if (op === '+pid') pids.add(Number(val)); else if (op === '-pid') pids.delete(Number(val));
    else if (op === '+dir') dirs.add(val); else if (op === '-dir') dirs.delete(val);
  }
});
const finish = () => {
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  setTimeout(() => {
    for (const d of dirs) { try { fs.rmSync(d, { recursive: true, force: true }); } catch {} }
    process.exit(0);
  }, 300);
};
process.stdin.on('end', finish); process.stdin.on('error', finish);
`;

function notifyWatchdog(line: string): void {
  const reg = registry();
  if (!reg.watchdog && !reg.watchdogFailed) {
    try {
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      const wd = spawn(process.execPath, ['-e', WATCHDOG_SOURCE], {
        stdio: ['pipe', 'ignore', 'ignore'],
        detached: true,
        env,
      });
      wd.on('error', () => {
        reg.watchdogFailed = true;
        reg.watchdog = null;
      });
      wd.stdin?.on('error', () => {
        /* watchdog died; emergency cleanup still covers normal exits */
      });
      wd.unref();
      (wd.stdin as unknown as { unref?: () => void } | null)?.unref?.();
      reg.watchdog = wd;
    } catch {
      reg.watchdogFailed = true;
    }
  }
  const wd = reg.watchdog;
  if (wd?.stdin && !wd.stdin.destroyed) {
    try {
      wd.stdin.write(line + '\n');
    } catch {
      /* ignore */
    }
  }
}

function trackDir(dir: string): void {
  registry().dirs.add(dir);
  notifyWatchdog(`+dir ${dir}`);
}

function untrackDir(dir: string): void {
  registry().dirs.delete(dir);
  notifyWatchdog(`-dir ${dir}`);
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reserves `count` distinct free loopback ports (all held open at once, then released). */
export async function getFreePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const srv = net.createServer();
      srv.unref();
      servers.push(srv);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen({ host: HOST, port: 0, exclusive: true }, () => {
            const addr = srv.address();
            if (!addr || typeof addr === 'string') reject(new Error('could not determine a free port'));
            else resolve(addr.port);
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(
      servers.map((srv) => new Promise<void>((resolve) => (srv.listening ? srv.close(() => resolve()) : resolve()))),
    );
  }
}

export async function getFreePort(): Promise<number> {
  const [port] = await getFreePorts(1);
  if (port === undefined) throw new Error('could not determine a free port');
  return port;
}

type Reply = { kind: 'simple' | 'error' | 'bulk' | 'int' | 'other'; text: string | null };

/** Parses one RESP2 reply at `offset`; returns null if the buffer is incomplete. */
function parseReply(buf: Buffer, offset: number): { reply: Reply; next: number } | null {
  const eol = buf.indexOf('\r\n', offset);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[offset] ?? 0);
  const head = buf.toString('utf8', offset + 1, eol);
  switch (type) {
    case '+':
      return { reply: { kind: 'simple', text: head }, next: eol + 2 };
    case '-':
      return { reply: { kind: 'error', text: head }, next: eol + 2 };
    case ':':
      return { reply: { kind: 'int', text: head }, next: eol + 2 };
    case '$': {
      const len = Number(head);
      if (len < 0) return { reply: { kind: 'bulk', text: null }, next: eol + 2 };
      const end = eol + 2 + len;
      if (buf.length < end + 2) return null;
      return { reply: { kind: 'bulk', text: buf.toString('utf8', eol + 2, end) }, next: end + 2 };
    }
    default:
      return { reply: { kind: 'other', text: head }, next: eol + 2 };
  }
}

/**
 * Sends inline commands over a raw socket and collects exactly `commands.length` replies.
 * Rejects on connection errors or timeout.
 */
function rawCommands(port: number, commands: string[], timeoutMs = 1_000): Promise<Reply[]> {
  return new Promise<Reply[]>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let settled = false;
    const sock = net.createConnection({ host: HOST, port });
    const done = (err: Error | null, replies?: Reply[]): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(replies ?? []);
    };
    const timer = setTimeout(() => done(new Error(`timeout talking to ${HOST}:${port}`)), timeoutMs);
    sock.on('connect', () => sock.write(commands.map((c) => c + '\r\n').join('')));
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const replies: Reply[] = [];
      let off = 0;
      while (replies.length < commands.length) {
        const parsed = parseReply(buf, off);
        if (!parsed) return;
        replies.push(parsed.reply);
        off = parsed.next;
      }
      done(null, replies);
    });
    sock.on('error', (err) => done(err));
    sock.on('close', () => done(new Error(`connection to ${HOST}:${port} closed before reply`)));
  });
}

type ProbeResult = 'ready' | 'loading' | 'foreign' | 'down';

/** Asks the server on `port` who it is and whether it serves commands yet. */
async function probe(port: number, expectedPid: number): Promise<ProbeResult> {
  let replies: Reply[];
  try {
    replies = await rawCommands(port, ['INFO server', 'PING']);
  } catch {
    return 'down';
  }
  const [info, ping] = replies;
  if (!info || info.kind !== 'bulk' || info.text === null) return 'loading';
  const m = /^process_id:(\d+)\s*$/m.exec(info.text);
  if (!m || Number(m[1]) !== expectedPid) return 'foreign';
  if (ping?.kind === 'simple' && ping.text === 'PONG') return 'ready';
  return 'loading';
}

// ---------------------------------------------------------------------------
// One redis-server process
// ---------------------------------------------------------------------------

class PortInUseError extends Error {}

interface RunningProcess {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited(): boolean;
  output(): string;
}

function spawnRedis(args: string[]): RunningProcess {
  const reg = registry();
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const collect = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    if (out.length > OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited = false;
  const exitedP = new Promise<void>((resolve) => {
    const finish = (): void => {
      if (exited) return;
      exited = true;
      reg.children.delete(child);
      if (child.pid !== undefined) notifyWatchdog(`-pid ${child.pid}`);
      resolve();
    };
    child.once('exit', finish);
    child.once('error', (err) => {
      out += `\n[spawn error] ${err.message}${(err as NodeJS.ErrnoException).code === 'ENOENT' ? ' (is redis-server installed and on PATH?)' : ''}`;
      finish();
    });
  });
  reg.children.add(child);
  if (child.pid !== undefined) notifyWatchdog(`+pid ${child.pid}`);
  return { child, exited: exitedP, hasExited: () => exited, output: () => out };
}

async function killProcess(proc: RunningProcess): Promise<void> {
  if (proc.hasExited()) return;
  proc.child.kill('SIGTERM');
  const graceful = await Promise.race([proc.exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
  if (!graceful && !proc.hasExited()) {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
}

/** Spawns redis-server with `args` and waits until it answers PING. */
async function launch(port: number, args: string[]): Promise<RunningProcess> {
  const proc = spawnRedis(args);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (proc.hasExited()) {
      const output = proc.output();
      const msg = `redis-server on ${HOST}:${port} exited during startup (code ${proc.child.exitCode}, signal ${proc.child.signalCode}).\nOutput:\n${output}`;
      if (/already in use/i.test(output)) throw new PortInUseError(msg);
      throw new Error(msg);
    }
    const pid = proc.child.pid;
    if (pid !== undefined) {
      const state = await probe(port, pid);
      if (state === 'ready') return proc;
      if (state === 'foreign') {
        // Someone else owns the port; our server will fail to bind. Never use theirs.
        await killProcess(proc);
        throw new PortInUseError(`port ${port} is owned by another process.\nOutput:\n${proc.output()}`);
      }
    }
    if (Date.now() > deadline) {
      await killProcess(proc);
      throw new Error(
        `redis-server on ${HOST}:${port} did not answer PING within ${READY_TIMEOUT_MS} ms.\nOutput:\n${proc.output()}`,
      );
    }
    await sleep(50);
  }
}

interface ServerSpec {
  appendonly?: boolean;
  appendfsync?: 'always' | 'everysec';
  extraArgs?: string[];
  /** Number of additional free ports to reserve, passed to portArgs. */
  extraPorts?: number;
  /** Extra args built from the additional ports, e.g. ['--cluster-port', String(p)]. */
  portArgs?: (ports: number[]) => string[];
}

function buildArgs(port: number, dir: string, spec: ServerSpec, portArgs: string[]): string[] {
  const args = [
    '--port', String(port),
    '--bind', HOST,
    '--save', '',
    '--appendonly', spec.appendonly ? 'yes' : 'no',
    '--dir', dir,
    '--daemonize', 'no',
    '--loglevel', 'warning',
  ];
  if (spec.appendonly) args.push('--appendfsync', spec.appendfsync ?? 'everysec');
  args.push(...portArgs, ...(spec.extraArgs ?? []));
  return args;
}

async function startServer(spec: ServerSpec, tmpPrefix: string): Promise<RedisHandle> {
  const dir = await mkdtemp(path.join(os.tmpdir(), tmpPrefix));
  trackDir(dir);
  let lastError: unknown;
  try {
    for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      const [port, ...extra] = await getFreePorts(1 + (spec.extraPorts ?? 0));
      if (port === undefined) throw new Error('could not reserve a free port');
      const portArgs = spec.portArgs ? spec.portArgs(extra) : [];
      const args = buildArgs(port, dir, spec, portArgs);
      let proc: RunningProcess;
      try {
        proc = await launch(port, args);
      } catch (err) {
        lastError = err;
        if (err instanceof PortInUseError) continue;
        throw err;
      }
      return makeHandle(port, dir, args, proc);
    }
    throw new Error(
      `could not start redis-server after ${PORT_ATTEMPTS} port attempts: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    untrackDir(dir);
    throw err;
  }
}

function makeHandle(port: number, dir: string, args: string[], first: RunningProcess): RedisHandle {
  let proc: RunningProcess | null = first;
  let stopped = false;
  let op: Promise<void> = Promise.resolve();
  // Serialize stop/restart calls so they never interleave.
  const serial = (fn: () => Promise<void>): Promise<void> => {
    const next = op.then(fn, fn);
    op = next.catch(() => {});
    return next;
  };
  return {
    url: `redis://${HOST}:${port}`,
    host: HOST,
    port,
    dir,
    stop: () =>
      serial(async () => {
        if (stopped) return;
        stopped = true;
        if (proc) await killProcess(proc);
        proc = null;
        await rm(dir, { recursive: true, force: true });
        untrackDir(dir);
      }),
    kill: () =>
      serial(async () => {
        if (proc) await killProcess(proc);
        proc = null;
      }),
    restart: () =>
      serial(async () => {
        if (stopped) throw new Error('restart() called after stop()');
        if (proc) await killProcess(proc);
        proc = null;
        proc = await launch(port, args);
      }),
  };
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisHandle> {
  return startServer(
    {
      appendonly: opts.appendonly ?? false,
      ...(opts.appendfsync ? { appendfsync: opts.appendfsync } : {}),
      extraArgs: opts.extraArgs ?? [],
    },
    'peakdesk-redis-',
  );
}

function runRedisCli(args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-cli ${args.join(' ')} timed out after ${timeoutMs} ms.\nOutput:\n${out}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run redis-cli: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`redis-cli ${args.join(' ')} failed (code ${code}, signal ${signal}).\nOutput:\n${out}`));
    });
  });
}

async function clusterInfo(port: number): Promise<Record<string, string>> {
  const [reply] = await rawCommands(port, ['CLUSTER INFO']);
  const info: Record<string, string> = {};
  if (reply?.kind !== 'bulk' || reply.text === null) return info;
  for (const line of reply.text.split(/\r?\n/)) {
    const idx = line.indexOf(':');
    if (idx > 0) info[line.slice(0, idx)] = line.slice(idx + 1).trim();
  }
  return info;
}

/** `replicas` per master (default 0): with 1, a killed master's replica takes over (failover). */
async function syncedReplicas(ports: number[]): Promise<number> {
  let synced = 0;
  for (const port of ports) {
    const [reply] = await rawCommands(port, ['INFO replication']).catch(() => [] as Reply[]);
    if (reply?.text && /^role:slave/m.test(reply.text) && /^master_link_status:up/m.test(reply.text)) synced += 1;
  }
  return synced;
}

export async function startRedisCluster(opts: { masters?: number; replicas?: number } = {}): Promise<RedisClusterHandle> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 0;
  const total = masters * (1 + replicas);
  if (!Number.isInteger(masters) || masters < 3) {
    throw new Error(`startRedisCluster: redis-cli --cluster create needs at least 3 masters (got ${masters})`);
  }
  const started: RedisHandle[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled(started.map((h) => h.stop()));
  };
  try {
    const results = await Promise.allSettled(
      Array.from({ length: total }, () =>
        startServer(
          {
            appendonly: false,
            extraArgs: [
              '--cluster-enabled', 'yes',
              '--cluster-config-file', 'nodes.conf',
              '--cluster-node-timeout', '2000',
            ],
            // Default bus port is port+10000, which can exceed 65535 for ephemeral
            // ports, so give each node an explicit free bus port.
            extraPorts: 1,
            portArgs: ([busPort]) => ['--cluster-port', String(busPort)],
          },
          'peakdesk-redis-cluster-',
        ),
      ),
    );
    for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;

    const nodes = started.map((h) => ({ host: h.host, port: h.port }));
    await runRedisCli([
      '--cluster', 'create',
      ...nodes.map((n) => `${n.host}:${n.port}`),
      '--cluster-replicas', String(replicas),
      '--cluster-yes',
    ]);

    const deadline = Date.now() + CLUSTER_READY_TIMEOUT_MS;
    let last: Record<string, string>[] = [];
    for (;;) {
      last = await Promise.all(nodes.map((n) => clusterInfo(n.port).catch(() => ({}) as Record<string, string>)));
      const ok = last.every(
        (info) =>
          info.cluster_state === 'ok' &&
          info.cluster_slots_assigned === '16384' &&
          info.cluster_known_nodes === String(total),
      );
      // Replicas count only once they have synced from their master.
      if (ok && (replicas === 0 || (await syncedReplicas(nodes.map((n) => n.port))) === masters * replicas)) break;
      if (Date.now() > deadline) {
        throw new Error(
          `redis cluster did not reach cluster_state:ok within ${CLUSTER_READY_TIMEOUT_MS} ms: ` +
            JSON.stringify(
              last.map((info, i) => ({
                port: nodes[i]?.port,
                state: info.cluster_state,
                slots: info.cluster_slots_assigned,
                known: info.cluster_known_nodes,
              })),
            ),
        );
      }
      await sleep(100);
    }
    return { nodes, servers: started, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
