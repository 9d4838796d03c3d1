import net from 'node:net';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { startRedis, startRedisCluster, type RedisHandle } from './redis-server.ts';

/** Resolves true if something accepts a TCP connection on host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.createConnection({ host, port });
    const finish = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1_000, () => finish(false));
    sock.once('connect', () => finish(true));
    sock.once('error', () => finish(false));
  });
}

describe('startRedis', () => {
  let handle: RedisHandle | undefined;
  let client: Redis | undefined;

  afterEach(async () => {
    client?.disconnect();
    client = undefined;
    await handle?.stop();
    handle = undefined;
  });

  it('starts a private redis-server, serves SET/GET, and is gone after stop()', async () => {
    handle = await startRedis();
    expect(handle.host).toBe('127.0.0.1');
    expect(handle.port).not.toBe(6379);
    expect(handle.url).toBe(`redis://127.0.0.1:${handle.port}`);

    client = new Redis(handle.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    await client.connect();
    await client.set('peakdesk:test', 'hello');
    expect(await client.get('peakdesk:test')).toBe('hello');
    const info = await client.info('server');
    expect(info).toMatch(new RegExp(`tcp_port:${handle.port}\\b`));
    client.disconnect();
    client = undefined;

    const { host, port, dir } = handle;
    await handle.stop();
    handle = undefined;
    expect(await accepts(host, port)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });

  it('restart() keeps AOF data and the port', async () => {
    handle = await startRedis({ appendonly: true, appendfsync: 'always' });
    client = new Redis(handle.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    await client.connect();
    await client.set('durable', 'yes');
    client.disconnect();

    await handle.restart?.();

    client = new Redis(handle.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    await client.connect();
    expect(await client.get('durable')).toBe('yes');
  });
});

describe('startRedisCluster', () => {
  it(
    'starts a 3-master cluster that serves keys in several slots',
    async () => {
      const cluster = await startRedisCluster();
      let client: Cluster | undefined;
      try {
        expect(cluster.nodes).toHaveLength(3);
        for (const n of cluster.nodes) expect(n.port).not.toBe(6379);

        client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
        const keys = ['{a}x', '{b}x', '{c}x'];
        for (const k of keys) await client.set(k, `v-${k}`);
        for (const k of keys) expect(await client.get(k)).toBe(`v-${k}`);

        // {a}, {b}, {c} hash to slots owned by three different masters.
        const masters = client.nodes('master');
        expect(masters).toHaveLength(3);
        const sizes = await Promise.all(masters.map((m) => m.dbsize()));
        expect(sizes.sort()).toEqual([1, 1, 1]);

        for (const n of cluster.nodes) {
          const direct = new Redis({ host: n.host, port: n.port, lazyConnect: true, maxRetriesPerRequest: 1 });
          try {
            await direct.connect();
            const info = (await direct.call('CLUSTER', 'INFO')) as string;
            expect(info).toMatch(/cluster_state:ok/);
          } finally {
            direct.disconnect();
          }
        }
      } finally {
        client?.disconnect();
        await cluster.stop();
      }
      for (const n of cluster.nodes) expect(await accepts(n.host, n.port)).toBe(false);
    },
    30_000,
  );
});
