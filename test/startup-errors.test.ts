/**
 * Start-up problems people can act on: each bad environment variable is named in what the
 * compiled gateway prints before it exits (78), and an unreachable Redis is reported with its
 * address while the gateway keeps retrying, then becomes ready once Redis is up.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { envProblems, workerCount } from '../src/config/env.ts';
import { killTree, launchDist, waitFor } from './support/process.ts';
import { startRedis } from './support/redis-server.ts';

const SECRET = 'startup-test-secret-0123456789';
const clean = { PEAKDESK_AUTH_SECRET: SECRET, REDIS_URL: '', REDIS_CLUSTER_NODES: '', PEAKDESK_WORKERS: '', LOG_LEVEL: '', NODE_ENV: '' };

describe('environment variables', () => {
  it('names each bad variable', () => {
    const cases: Record<string, string> = {
      PORT: 'abc',
      HOST: 'two words',
      REDIS_URL: 'garbage',
      REDIS_CLUSTER_NODES: 'a:1,b',
      PEAKDESK_AUTH_SECRET: 'short',
      PEAKDESK_WORKERS: 'x',
      LOG_LEVEL: 'nonsense',
    };
    for (const [name, value] of Object.entries(cases)) {
      const problems = envProblems({ [name]: value });
      expect(problems, name).toHaveLength(1);
      expect(problems[0]!.startsWith(`${name}=`), problems[0]).toBe(true);
    }
    expect(envProblems({ PORT: '70000' })[0]).toMatch(/^PORT=/);
    expect(envProblems({ PEAKDESK_AUTH_SECRET: 'short' })[0]).not.toContain('short');
    expect(envProblems({ PORT: '0', HOST: '0.0.0.0', REDIS_URL: 'redis://r:6379/0', PEAKDESK_WORKERS: 'auto', LOG_LEVEL: 'debug' })).toEqual([]);
    expect(workerCount({ PEAKDESK_WORKERS: 'auto' }, 6)).toBe(6);
    expect(workerCount({}, 6)).toBe(1);
  });

  it('the gateway refuses to start with a message naming the variable (exit 78)', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PORT: 'abc' }, /PORT="abc": must be a whole number/],
      [{ PEAKDESK_AUTH_SECRET: 'short' }, /PEAKDESK_AUTH_SECRET=\(5 characters\): must be at least 16/],
      [{ PEAKDESK_WORKERS: 'x' }, /PEAKDESK_WORKERS="x": /],
      [{ PEAKDESK_WORKERS: '2' }, /PEAKDESK_WORKERS="2": 2 workers cannot share the embedded in-process store; set REDIS_URL/],
      [{ LOG_LEVEL: 'nonsense' }, /LOG_LEVEL="nonsense": must be one of/],
      [{ REDIS_URL: 'garbage' }, /REDIS_URL="garbage": must be a URL like redis:/],
      [{ PEAKDESK_CONFIG: '/nonexistent/peakdesk.json' }, /PEAKDESK_CONFIG="\/nonexistent\/peakdesk.json": cannot read/],
      [{ PEAKDESK_AUTH_SECRET: '', NODE_ENV: 'production' }, /PEAKDESK_AUTH_SECRET is not set and NODE_ENV=production/],
    ];
    // One at a time: eight Node start-ups at once would starve the test files running beside this one.
    for (const [env, expected] of cases) {
      const run = launchDist({ ...clean, ...env });
      const { code } = await run.exited;
      expect(code, JSON.stringify(env)).toBe(78);
      expect(run.stderr()).toMatch(expected);
      expect(run.lines().some((l) => l.msg === 'listening')).toBe(false);
    }
  }, 30_000);

  it('a port in use is reported naming PORT (exit 69)', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    const port = (holder.address() as { port: number }).port;
    try {
      const run = launchDist({ ...clean, PORT: String(port) });
      expect((await run.exited).code).toBe(69);
      expect(run.stderr()).toContain(`PORT=${port}: 127.0.0.1:${port} is already in use`);
    } finally {
      holder.close();
    }
  }, 20_000);
});

describe('Redis down at start-up', () => {
  it('says it cannot reach Redis at host:port, answers /readyz 503, and becomes ready once Redis is up', async () => {
    const redis = await startRedis();
    await redis.kill();
    const run = launchDist({ ...clean, REDIS_URL: redis.url });
    try {
      const waiting = await waitFor(() => run.lines().find((l) => l.msg === 'waiting for Redis before starting'), 15_000, 'the stand-in');
      const http = `http://127.0.0.1:${waiting.port}`;
      await waitFor(() => run.lines().find((l) => /^cannot reach Redis at /.test(l.msg)), 10_000, 'the Redis message');
      const message = run.lines().find((l) => /^cannot reach Redis at /.test(l.msg))!.msg;
      expect(message).toContain(`cannot reach Redis at 127.0.0.1:${redis.port} (ECONNREFUSED)`);
      expect(run.lines().some((l) => /MaxRetriesPerRequest/.test(JSON.stringify(l)))).toBe(false);
      const notReady = await fetch(`${http}/readyz`);
      expect(notReady.status).toBe(503);
      expect((await notReady.json()).message).toContain('cannot reach Redis');
      expect((await fetch(`${http}/healthz`)).status).toBe(200);
      // Retries go on with backoff, but the message is logged once per interval (5 s), not per attempt.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(run.lines().filter((l) => /^cannot reach Redis at /.test(l.msg)).length).toBe(1);

      await redis.restart();
      const listening = await waitFor(() => run.lines().find((l) => l.msg === 'listening'), 15_000, '"listening"');
      expect(listening.port).toBe(waiting.port);
      expect((await fetch(`${http}/readyz`)).status).toBe(200);
      run.proc.kill('SIGTERM');
      expect((await run.exited).code).toBe(0);
    } finally {
      killTree(run);
      await redis.stop();
    }
  }, 40_000);
});
