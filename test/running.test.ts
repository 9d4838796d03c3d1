/**
 * The contract's Running sections, end to end on the compiled gateway (dist/, built once by
 * the global setup): `npm start` and its signals with one and with two workers, a killed
 * worker replaced while its clients resume.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { TestClient, until } from './support/client.ts';
import { alive, descendants, killTree, launch, launchDist, waitFor, type Launched } from './support/process.ts';
import { startRedis, type RedisHandle } from './support/redis-server.ts';

const SECRET = 'running-test-secret-0123456789';
/** server.shutdownGraceMs of config/default.json (the schema default). */
const GRACE_MS = 5_000;

const buyerToken = (sub: string) =>
  new SignJWT({ shop: 'shop-r', kind: 'buyer' }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).sign(new TextEncoder().encode(SECRET));

const listeningOf = (run: Launched) => waitFor(() => run.lines().find((l) => l.msg === 'listening'), 20_000, '"listening"');

/** SIGTERM to `run`'s process; every socket must close with 1001 and the whole tree exit in time. */
async function stopAndCheck(run: Launched, clients: TestClient[]): Promise<void> {
  const tree = descendants(run.proc.pid!);
  const t0 = Date.now();
  run.proc.kill('SIGTERM');
  const codes = await Promise.all(clients.map((c) => c.closed.then((c) => c.code)));
  expect(new Set(codes)).toEqual(new Set([1001]));
  await run.exited;
  await waitFor(() => (tree.every((p) => !alive(p.pid)) ? true : undefined), GRACE_MS + 2_000, 'the process tree to exit');
  expect(Date.now() - t0).toBeLessThan(GRACE_MS + 2_000);
}

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('npm start', () => {
  it('runs dist/ in npm\'s own child without tsx; a first run prints working links; SIGTERM to npm drains and exits', async () => {
    const run = launch('npm', ['start'], { PEAKDESK_AUTH_SECRET: '', REDIS_URL: '', PEAKDESK_WORKERS: '' });
    try {
      const { port } = await listeningOf(run);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      const tree = descendants(run.proc.pid!);
      expect(tree.map((p) => p.cmd)).toEqual(['node --max-semi-space-size=64 scripts/start.mjs']);
      expect(tree.some((p) => /tsx/.test(p.cmd))).toBe(false);

      // The first hour: a dev-secret notice and links whose tokens this very run accepts.
      expect(run.lines().some((l) => l.level === 40 && /PEAKDESK_AUTH_SECRET is not set/.test(l.msg))).toBe(true);
      const link = (page: string) => new URL(/https?:\/\/\S+/.exec(run.stderr().split('\n').find((l) => l.includes(`/${page}/?token=`)) ?? '')![0]);
      await waitFor(() => (run.stderr().includes('/ops/?token=') ? true : undefined), 5_000, 'the links');
      const [agentUrl, buyerUrl, opsUrl] = ['agent', 'buyer', 'ops'].map(link);
      expect((await fetch(agentUrl!)).status).toBe(200);
      const agent = await TestClient.connect(`ws://127.0.0.1:${port}`, 'agent', agentUrl!.searchParams.get('token')!);
      await agent.next('welcome');
      const buyer = await TestClient.connect(`ws://127.0.0.1:${port}`, 'buyer', buyerUrl!.searchParams.get('token')!);
      await buyer.next('welcome');
      const queues = await fetch(`http://127.0.0.1:${port}/v1/admin/queues`, { headers: { authorization: `Bearer ${opsUrl!.searchParams.get('token')}` } });
      expect(queues.status).toBe(200);

      await stopAndCheck(run, [agent, buyer]);
      expect(run.lines().some((l) => l.msg === 'stopped')).toBe(true);
    } finally {
      killTree(run);
    }
  }, 40_000);

  it('with PEAKDESK_WORKERS=2 on Redis: two workers share the port, one `listening` line; SIGTERM to npm drains both', async () => {
    const run = launch('npm', ['start'], { PEAKDESK_AUTH_SECRET: SECRET, REDIS_URL: redis.url, PEAKDESK_WORKERS: '2' });
    try {
      const listening = await listeningOf(run);
      expect(listening.workers).toBe(2);
      const tree = descendants(run.proc.pid!);
      expect(tree.filter((p) => /\bnode\b/.test(p.cmd)).length, JSON.stringify(tree)).toBe(3); // the primary and two workers
      const url = `ws://127.0.0.1:${listening.port}`;
      const clients = await Promise.all([1, 2, 3, 4].map(async (i) => TestClient.connect(url, 'buyer', await buyerToken(`w2-${i}`))));
      await Promise.all(clients.map((c) => c.next('welcome')));
      expect(run.lines().filter((l) => l.msg === 'listening').length).toBe(1);
      await stopAndCheck(run, clients);
    } finally {
      killTree(run);
    }
  }, 40_000);
});

describe('workers', () => {
  it('a killed worker is replaced and its buyers resume their sessions on the others', async () => {
    const run = launchDist({ PEAKDESK_AUTH_SECRET: SECRET, REDIS_URL: redis.url, PEAKDESK_WORKERS: '2' });
    try {
      const { port } = await listeningOf(run);
      const url = `ws://127.0.0.1:${port}`;
      const ready = () => run.lines().filter((l) => l.msg === 'worker ready');
      const victim = ready().find((l) => l.slot === 0)!.pid as number;
      const tokens = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((i) => buyerToken(`kill-${i}`)));
      const before = await Promise.all(
        tokens.map(async (t, i) => {
          const c = await TestClient.connect(url, 'buyer', t);
          const welcome = await c.next('welcome');
          c.send({ type: 'message', clientMsgId: `m${i}`, text: '这件有货吗' });
          const ack = await c.next('ack');
          return { c, sessionId: welcome.sessionId, seq: ack.seq as number };
        }),
      );
      process.kill(victim, 'SIGKILL');
      const closed = new Set<(typeof before)[number]>();
      for (const b of before) void b.c.closed.then(() => closed.add(b));
      await waitFor(() => (closed.size ? true : undefined), 5_000, 'the killed worker\'s sockets to drop');
      await new Promise((r) => setTimeout(r, 300));
      const dropped = [...closed];
      // The primary spreads connections over both workers: some were on the killed one, not all.
      expect(dropped.length).toBeGreaterThan(0);
      expect(dropped.length).toBeLessThan(before.length);
      await waitFor(() => ready().find((l) => l.slot === 0 && l.pid !== victim), 15_000, 'a replacement worker');
      expect(run.lines().some((l) => l.msg === 'worker exited; starting a replacement' && l.signal === 'SIGKILL')).toBe(true);

      for (const [i, b] of dropped.entries()) {
        const c = await TestClient.connect(url, 'buyer', tokens[before.indexOf(b)]!);
        const welcome = await c.next('welcome');
        expect(welcome.sessionId).toBe(b.sessionId);
        expect(welcome.lastSeq).toBeGreaterThanOrEqual(b.seq);
        c.send({ type: 'resume', lastSeq: b.seq });
        c.send({ type: 'message', clientMsgId: `again${i}`, text: '还在吗' });
        expect((await c.next('ack')).seq).toBeGreaterThan(b.seq);
        await c.close();
      }
      await until(() => true);
      run.proc.kill('SIGTERM');
      expect((await run.exited).code).toBe(0);
    } finally {
      killTree(run);
    }
  }, 40_000);
});

describe('the container image, run as a plain process', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  const jsonArray = (instruction: string) => JSON.parse(new RegExp(`^${instruction}[^\\[]*(\\[.*\\])\\s*$`, 'm').exec(dockerfile.replace(/\\\n\s*/g, ''))![1]!) as string[];

  it('its ENTRYPOINT serves, its HEALTHCHECK follows /readyz, and SIGTERM drains it', async () => {
    const [cmd, ...args] = jsonArray('ENTRYPOINT');
    expect(cmd).toBe('node');
    const [hcCmd, ...hcArgs] = jsonArray('HEALTHCHECK');
    // The image's environment (NODE_ENV=production), on loopback here rather than 0.0.0.0.
    const run = launch(process.execPath, args, { NODE_ENV: 'production', PEAKDESK_AUTH_SECRET: SECRET, REDIS_URL: redis.url, PEAKDESK_WORKERS: '' });
    try {
      const { port } = await listeningOf(run);
      expect(hcCmd).toBe('node');
      const health = launch(process.execPath, hcArgs, { PORT: String(port) });
      expect((await health.exited).code).toBe(0);
      const client = await TestClient.connect(`ws://127.0.0.1:${port}`, 'buyer', await buyerToken('img-1'));
      await client.next('welcome');
      await stopAndCheck(run, [client]);
      expect((await run.exited).code).toBe(0);
      // Nothing listens any more: the health check fails.
      const after = launch(process.execPath, hcArgs, { PORT: String(port) });
      expect((await after.exited).code).toBe(1);
    } finally {
      killTree(run);
    }
  }, 30_000);
});
