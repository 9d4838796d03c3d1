/**
 * What a client is told when Redis refuses or fails: every retryable failure is `unavailable`
 * (src/store/redis/errors.ts), and /readyz says 503 while Redis answers but refuses writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis, ReplyError } from 'ioredis';
import { isPeakError } from '../src/protocol/errors.ts';
import { isRetryable, translate } from '../src/store/redis/errors.ts';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';

function reply(message: string): Error {
  return new (ReplyError as unknown as new (m: string) => Error)(message);
}
function named(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}
function codeOf(err: unknown): string {
  try {
    translate(err);
  } catch (out) {
    return isPeakError(out) ? out.code : `raw:${(out as Error).message}`;
  }
  return 'none';
}

describe('translate: one mapping of Redis failures', () => {
  it.each([
    ["OOM command not allowed when used memory > 'maxmemory'."],
    ["OOM command not allowed when used memory > 'maxmemory'. script: e9dad308, on @user_script:1."],
    ["READONLY You can't write against a read only replica."],
    ['LOADING Redis is loading the dataset in memory'],
    ['BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT.'],
    ['NOSCRIPT No matching script. Please use EVAL.'],
    ['TRYAGAIN Multiple keys request during rehashing of slot'],
    ['CLUSTERDOWN The cluster is down'],
    ['CLUSTERDOWN Hash slot not served'],
    ['MOVED 3999 127.0.0.1:6381'],
    ['ASK 3999 127.0.0.1:6381'],
    ['MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no'],
    ['NOREPLICAS Not enough good replicas to write.'],
    ["ERR Error running script (call to f_1): @user_script:1: @user_script: 1: -OOM command not allowed when used memory > 'maxmemory'. "],
  ])('reply %j → unavailable', (message) => {
    expect(codeOf(reply(message))).toBe('unavailable');
  });

  it.each([
    [named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 2). Refer to "maxRetriesPerRequest" option for details.')],
    [named('ClusterAllFailedError', 'Failed to refresh slots cache.')],
    [new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 1 127.0.0.1:7001')],
    [new Error('Connection is closed.')],
    [new Error("Stream isn't writeable and enableOfflineQueue options is false")],
    [new Error("Cluster isn't ready and enableOfflineQueue options is false")],
    [new Error('None of startup nodes is available')],
    [new Error('Command timed out')],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })],
    [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
  ])('connection failure %s → unavailable', (err) => {
    expect(codeOf(err)).toBe('unavailable');
  });

  it('keeps the codes the scripts report, and leaves genuine bugs alone (they become `internal`)', () => {
    expect(codeOf(reply('PEAK not_assigned session s1 is not yours script: abc, on @user_script:3.'))).toBe('not_assigned');
    for (const bug of [
      reply("ERR wrong number of arguments for 'hset' command"),
      reply('WRONGTYPE Operation against a key holding the wrong kind of value'),
      reply('ERR user_script:12: Script attempted to access nonexistent global variable'),
      new TypeError("Cannot read properties of undefined (reading 'split')"),
    ]) {
      expect(isRetryable(bug), bug.message).toBe(false);
      expect(codeOf(bug)).toBe(`raw:${bug.message}`);
    }
  });
});

describe('a Redis that refuses writes', () => {
  let redis: RedisHandle;
  let raw: Redis;
  let g: RunningGateway;

  beforeAll(async () => {
    redis = await startRedis({ extraArgs: ['--maxmemory-policy', 'noeviction'] });
    raw = new Redis(redis.url);
    g = await startGateway({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await g?.stop();
    raw?.disconnect();
    await redis?.stop();
  });

  async function ready(): Promise<number> {
    return (await fetch(`${g.http}/readyz`)).status;
  }

  it('out of memory (noeviction): frames get `unavailable`, not `internal`; /readyz 503; both recover', async () => {
    const b = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'oom-buyer', kind: 'buyer' }));
    await b.next('welcome');
    b.send({ type: 'message', clientMsgId: 'm1', text: '在吗' });
    await b.next('ack');
    expect(await ready()).toBe(200);

    // Fill Redis past a 1 MB limit with keys of our own.
    const pipe = raw.pipeline();
    for (let i = 0; i < 40; i++) pipe.set(`filler:${i}`, 'x'.repeat(50_000));
    await pipe.exec();
    await raw.config('SET', 'maxmemory', '1mb');
    await expect(raw.set('probe', '1')).rejects.toThrow(/^OOM/);

    b.send({ type: 'message', clientMsgId: 'm2', text: '有人吗' });
    expect(await b.next('error', (f) => f.ref === 'm2')).toMatchObject({ code: 'unavailable' });
    expect(await ready()).toBe(503);
    expect((await fetch(`${g.http}/healthz`)).status).toBe(200);
    // A new connection is refused as retryable (1013), not as a server bug (1011).
    const late = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'oom-late', kind: 'buyer' }));
    expect(await late.next('error')).toMatchObject({ code: 'unavailable' });
    expect((await late.closed).code).toBe(1013);
    expect(b.all('error').filter((f) => f.code === 'internal')).toEqual([]);

    await raw.config('SET', 'maxmemory', '0');
    await until(async () => (await ready()) === 200, 5_000, 'ready again');
    b.send({ type: 'message', clientMsgId: 'm2', text: '有人吗' });
    expect(await b.next('ack', (f) => f.clientMsgId === 'm2')).toMatchObject({ seq: expect.any(Number) });
    await b.close();
  });

  it('a read-only replica (as after a failover): `unavailable` and /readyz 503 until it is a master again', async () => {
    const other = await startRedis();
    try {
      const b = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'ro-buyer', kind: 'buyer' }));
      await b.next('welcome');
      await raw.replicaof(other.host, other.port);
      await until(async () => /master_link_status:up/.test(await raw.info('replication')), 10_000, 'replica in sync');
      b.send({ type: 'message', clientMsgId: 'r1', text: '在吗' });
      expect(await b.next('error', (f) => f.ref === 'r1')).toMatchObject({ code: 'unavailable' });
      expect(await ready()).toBe(503);
      await raw.replicaof('NO', 'ONE');
      await until(async () => (await ready()) === 200, 5_000, 'ready again');
      await b.close();
    } finally {
      await other.stop();
    }
  });
});

describe('a Redis that answers nothing', () => {
  it('frames get `unavailable` after redis.commandTimeoutMs instead of hanging; a resend after it is stored once', async () => {
    const own = await startRedis({ extraArgs: ['--enable-debug-command', 'yes'] });
    const gw = await startGateway({ redisUrl: own.url, config: { redis: { commandTimeoutMs: 300 } } });
    const freezer = new Redis(own.url);
    try {
      const b = await TestClient.connect(gw.url, 'buyer', await gw.token({ sub: 'frozen-redis', kind: 'buyer' }));
      const { sessionId } = await b.next('welcome');
      b.send({ type: 'message', clientMsgId: 'f0', text: '在吗' });
      await b.next('ack', (f) => f.clientMsgId === 'f0');
      const frozen = freezer.call('DEBUG', 'SLEEP', '3').catch(() => {});
      await new Promise((r) => setTimeout(r, 50));
      b.send({ type: 'message', clientMsgId: 'f1', text: '有人吗' });
      // Well before the 3 s the Redis is frozen for.
      expect(await b.next('error', (f) => f.ref === 'f1', 1_500)).toMatchObject({ code: 'unavailable' });
      await frozen;
      b.send({ type: 'message', clientMsgId: 'f1', text: '有人吗' });
      await b.next('ack', (f) => f.clientMsgId === 'f1');
      const lines = (await gw.gateway.deps.store.readEvents('shop-1', sessionId, 0)).filter((e) => e.text === '有人吗');
      expect(lines).toHaveLength(1);
      expect(b.all('error').filter((f) => f.code === 'internal')).toEqual([]);
      await b.close();
    } finally {
      freezer.disconnect();
      await gw.stop();
      await own.stop();
    }
  });
});
