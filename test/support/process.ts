import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export interface Launched {
  proc: ChildProcess;
  /** stdout's JSON lines (npm's own banner lines are skipped). */
  lines: () => Record<string, any>[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `cmd args` in the repo with `env` on top of this process's environment. */
export function launch(cmd: string, args: string[], env: Record<string, string | undefined>): Launched {
  const proc = spawn(cmd, args, {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal })),
  );
  return {
    proc,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l)),
    stderr: () => err,
    exited,
  };
}

/** The compiled gateway, as the Docker image runs it. */
export const launchDist = (env: Record<string, string | undefined>) => launch(process.execPath, ['dist/main.js'], env);

export async function waitFor<T>(fn: () => T | undefined | Promise<T | undefined>, ms: number, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every descendant of `pid` (Linux /proc), with its command line. */
export function descendants(pid: number): { pid: number; cmd: string }[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone meanwhile */
    }
  }
  const out: { pid: number; cmd: string }[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) {
      if (pp !== p) continue;
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').join(' ').trim();
      } catch {
        /* gone */
      }
      out.push({ pid: child, cmd });
      walk(child);
    }
  };
  walk(pid);
  return out;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs `run` and everything it started (clean-up after a failed test). */
export function killTree(run: Launched): void {
  const pid = run.proc.pid;
  if (pid === undefined) return;
  for (const p of descendants(pid).reverse()) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  run.proc.kill('SIGKILL');
}

/**
 * A gateway in its own process (so it can be killed for real) on the Redis at `redisUrl`,
 * with `config` laid over config/default.json. Resolves once it listens.
 */
export async function gatewayProcess(redisUrl: string, config: Record<string, unknown>): Promise<{ proc: ChildProcess; url: string; http: string }> {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const { merge, TEST_SECRET } = await import('./gateway.ts');
  mkdirSync('test/.tmp', { recursive: true });
  const path = `test/.tmp/gateway-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`;
  writeFileSync(path, JSON.stringify(merge(JSON.parse(readFileSync('config/default.json', 'utf8')), config)));
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', REDIS_URL: redisUrl, PEAKDESK_AUTH_SECRET: TEST_SECRET, PEAKDESK_CONFIG: path, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) if (line.includes('"msg":"listening"')) resolve(JSON.parse(line).port);
    });
    proc.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
  return { proc, url: `ws://127.0.0.1:${port}`, http: `http://127.0.0.1:${port}` };
}
