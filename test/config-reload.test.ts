/**
 * Live config over real Redis: PUT validation, applying to new decisions only, two instances
 * converging, a late instance joining, and the config file being watched.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { freshPrefix, startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const running: RunningGateway[] = [];
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(running.splice(0).map((g) => g.stop()));
});

async function gateway(keyPrefix: string, extra: { configPath?: string; config?: Record<string, any>; logger?: Logger } = {}) {
  const g = await startGateway({ redisUrl: redis.url, keyPrefix, ...extra });
  running.push(g);
  return g;
}

/** GET, or a PUT with the If-Match of a fresh GET (a platform admin: the config is every shop's). */
async function api(g: RunningGateway, method: 'GET' | 'PUT', body?: unknown) {
  const authorization = `Bearer ${await g.token({ sub: 'ops', kind: 'admin', scope: 'platform' })}`;
  const ifMatch = method === 'PUT' ? (await fetch(`${g.http}/v1/admin/config`, { headers: { authorization } })).headers.get('etag')! : undefined;
  const res = await fetch(`${g.http}/v1/admin/config`, {
    method,
    headers: { authorization, ...(body ? { 'content-type': 'application/json' } : {}), ...(ifMatch ? { 'if-match': ifMatch } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** The running config with a rule sending 赠品 (free gifts) questions to after-sale first. */
function withGiftRule(doc: any): any {
  const next = structuredClone(doc);
  next.intent.rules.unshift({ role: 'after-sale', keywords: ['赠品'], patterns: [] });
  return next;
}

async function roleOf(g: RunningGateway, buyerId: string, text: string): Promise<{ role: string; sessionId: string }> {
  const c = await TestClient.connect(g.url, 'buyer', await g.token({ sub: buyerId, kind: 'buyer' }));
  clients.push(c);
  const { sessionId } = await c.next('welcome');
  c.send({ type: 'message', clientMsgId: '1', text });
  return { role: (await c.next('queue')).role, sessionId };
}

describe('live config', () => {
  it('a PUT changes the classification of new sessions only; waiting sessions keep role and place', async () => {
    const g = await gateway(freshPrefix());
    const before = await roleOf(g, 'early', '我想问一下赠品');
    const early2 = await roleOf(g, 'early-2', '你好');
    expect(before.role).toBe('pre-sale');
    const { body: current } = await api(g, 'GET');

    const put = await api(g, 'PUT', withGiftRule(current.config));
    expect(put.status).toBe(200);
    expect(put.body.version).not.toBe(current.version);
    expect(put.body.source).toBe('admin:ops');
    expect((await api(g, 'GET')).body.version).toBe(put.body.version);

    expect((await roleOf(g, 'late', '我想问一下赠品')).role).toBe('after-sale');
    const store = g.gateway.deps.store;
    expect(await store.getSession('shop-1', before.sessionId)).toMatchObject({ state: 'queued', role: 'pre-sale' });
    expect(await store.queuePosition('shop-1', 'pre-sale', before.sessionId)).toBe(1);
    expect(await store.queuePosition('shop-1', 'pre-sale', early2.sessionId)).toBe(2);
  });

  it('an invalid PUT changes nothing and lists every problem', async () => {
    const g = await gateway(freshPrefix());
    const { body: current } = await api(g, 'GET');
    const bad = withGiftRule(current.config);
    bad.routing.offerTimeoutMs = 5;
    bad.bots.limits.perMinute = 'many';
    bad.intent.rules[0].role = 'no-such-role';
    bad.redis = { url: 'redis://elsewhere:6379' };
    bad.surprise = true;
    bad.routing.roles = ['pre-sale', 'order-edit', 'after-sale'];
    const r = await api(g, 'PUT', bad);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('bad_request');
    const problems: { path: string; message: string }[] = r.body.errors;
    for (const path of ['routing.offerTimeoutMs', 'bots.limits.perMinute', 'intent.rules.0.role', 'redis', '(root)', 'routing.roles']) {
      expect(problems.some((p) => p.path === path), `${path} in ${JSON.stringify(problems)}`).toBe(true);
    }
    const after = await api(g, 'GET');
    expect(after.body.version).toBe(current.version);
    expect((await roleOf(g, 'after-bad-put', '我想问一下赠品')).role).toBe('pre-sale');
    expect((await api(g, 'PUT', [1, 2])).status).toBe(400);
  });

  it('two instances converge within a second; an instance started later joins the shared config', async () => {
    const prefix = freshPrefix();
    const g1 = await gateway(prefix);
    const g2 = await gateway(prefix);
    const { body: current } = await api(g1, 'GET');
    expect((await api(g2, 'GET')).body.version).toBe(current.version);

    const put = await api(g1, 'PUT', withGiftRule(current.config));
    const t0 = Date.now();
    await until(async () => (await api(g2, 'GET')).body.version === put.body.version, 1_000, 'second instance on the new config');
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect((await roleOf(g2, 'on-g2', '我想问一下赠品')).role).toBe('after-sale');

    // Started with the file's config, it takes the one the fleet runs.
    const g3 = await gateway(prefix);
    expect((await api(g3, 'GET')).body.version).toBe(put.body.version);
    expect((await roleOf(g3, 'on-g3', '我想问一下赠品')).role).toBe('after-sale');
  });

  it('warns at start-up when its file differs from the shared config the cluster runs, naming what differs', async () => {
    const prefix = freshPrefix();
    const g1 = await gateway(prefix);
    const { body: current } = await api(g1, 'GET');
    const next = withGiftRule(current.config);
    next.routing.offerTimeoutMs = 17_000;
    expect((await api(g1, 'PUT', next)).status).toBe(200);

    const capture = () => {
      const lines: any[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
      return { lines, logger };
    };
    // Started with the shipped file, which is no longer what runs.
    const stale = capture();
    const g2 = await gateway(prefix, { logger: stale.logger });
    const warning = stale.lines.find((l) => /differs from the shared config/.test(l.msg));
    expect(warning, JSON.stringify(stale.lines)).toMatchObject({ level: 40, sharedVersion: (await api(g1, 'GET')).body.version });
    expect(warning.differs).toEqual(expect.arrayContaining(['intent.rules', 'routing.offerTimeoutMs']));
    expect(warning.fileVersion).not.toBe(warning.sharedVersion);
    expect((await api(g2, 'GET')).body.version).toBe(warning.sharedVersion); // the shared copy runs

    // Started with a file equal to what runs: no warning.
    const same = capture();
    await gateway(prefix, { logger: same.logger, config: { intent: next.intent, routing: { offerTimeoutMs: 17_000 } } });
    expect(same.lines.filter((l) => /differs from the shared config/.test(l.msg))).toEqual([]);
  });

  it('watches its config file: a valid edit rolls out, an invalid one is refused', async () => {
    mkdirSync('test/.tmp', { recursive: true });
    const path = `test/.tmp/config-${process.pid}-${Date.now()}.json`;
    const doc = JSON.parse(readFileSync('config/default.json', 'utf8'));
    writeFileSync(path, JSON.stringify(doc));
    const prefix = freshPrefix();
    const g = await gateway(prefix, { configPath: path });
    const other = await gateway(prefix);
    const start = (await api(g, 'GET')).body.version;

    writeFileSync(path, JSON.stringify({ ...doc, routing: { ...doc.routing, offerTimeoutMs: 1 } }));
    await new Promise((r) => setTimeout(r, 800));
    expect((await api(g, 'GET')).body.version).toBe(start);

    writeFileSync(path, JSON.stringify(withGiftRule(doc)));
    await until(async () => (await api(g, 'GET')).body.version !== start, 5_000, 'file change applied');
    const next = (await api(g, 'GET')).body;
    expect(next.source).toMatch(/^file:/);
    await until(async () => (await api(other, 'GET')).body.version === next.version, 1_000, 'file change reached the other instance');

    // SIGHUP's path: reading the same file again changes nothing.
    await g.gateway.configSync.reloadFile();
    expect((await api(g, 'GET')).body.version).toBe(next.version);
  });
});
