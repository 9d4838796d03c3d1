/**
 * /metrics is open on the main port by default; `auth.metricsToken` puts it behind a bearer
 * token (a platform admin token works too), `server.metricsPort` moves it to a listener of
 * its own.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway } from './support/gateway.ts';

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const METRICS_TOKEN = 'scrape-me-0123456789';

async function scrape(base: string, authorization?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}/metrics`, { headers: authorization ? { authorization } : {} });
  return { status: res.status, text: await res.text() };
}

describe('/metrics access', () => {
  it('is open on the main port by default', async () => {
    const g = await startGateway({ redisUrl: redis.url });
    try {
      const r = await scrape(g.http);
      expect(r.status).toBe(200);
      expect(r.text).toContain('peakdesk_connections');
    } finally {
      await g.stop();
    }
  });

  it('with auth.metricsToken: 401 without it or with a wrong one; the token or a platform admin token scrape', async () => {
    const g = await startGateway({ redisUrl: redis.url, config: { auth: { metricsToken: METRICS_TOKEN } } });
    try {
      const none = await fetch(`${g.http}/metrics`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      expect(await none.text()).not.toContain('peakdesk_');
      expect((await scrape(g.http, `Bearer ${METRICS_TOKEN}x`)).status).toBe(401);
      expect((await scrape(g.http, METRICS_TOKEN)).status).toBe(401);
      const shopAdmin = await g.token({ sub: 'ops', kind: 'admin' });
      expect((await scrape(g.http, `Bearer ${shopAdmin}`)).status).toBe(401);
      const buyer = await g.token({ sub: 'b', kind: 'buyer' });
      expect((await scrape(g.http, `Bearer ${buyer}`)).status).toBe(401);
      const ok = await scrape(g.http, `Bearer ${METRICS_TOKEN}`);
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('peakdesk_connections');
      const platform = await g.token({ sub: 'ops', kind: 'admin', scope: 'platform' });
      expect((await scrape(g.http, `Bearer ${platform}`)).status).toBe(200);
      // The probes stay open.
      expect((await fetch(`${g.http}/healthz`)).status).toBe(200);
      expect((await fetch(`${g.http}/readyz`)).status).toBe(200);
    } finally {
      await g.stop();
    }
  });

  it('with server.metricsPort: served there only (the main port answers 404), and nothing else there', async () => {
    const g = await startGateway({ redisUrl: redis.url, config: { server: { metricsPort: 0 } } });
    try {
      expect(g.gateway.metricsPort).toBeGreaterThan(0);
      expect(g.gateway.metricsPort).not.toBe(g.port);
      const own = `http://127.0.0.1:${g.gateway.metricsPort}`;
      const r = await scrape(own);
      expect(r.status).toBe(200);
      expect(r.text).toContain('peakdesk_connections');
      expect((await scrape(g.http)).status).toBe(404);
      expect((await fetch(`${own}/healthz`)).status).toBe(404);
      expect((await fetch(`${own}/metrics`, { method: 'POST' })).status).toBe(404);
    } finally {
      await g.stop();
    }
  });

  it('the metrics listen settings are per instance: a PUT naming them is refused', async () => {
    const g = await startGateway({ redisUrl: redis.url });
    try {
      const authorization = `Bearer ${await g.token({ sub: 'ops', kind: 'admin', scope: 'platform' })}`;
      const got = await fetch(`${g.http}/v1/admin/config`, { headers: { authorization } });
      const doc = ((await got.json()) as { config: any }).config;
      doc.server = { ...doc.server, metricsPort: 9999 };
      const put = await fetch(`${g.http}/v1/admin/config`, {
        method: 'PUT',
        headers: { authorization, 'content-type': 'application/json', 'if-match': got.headers.get('etag')! },
        body: JSON.stringify(doc),
      });
      expect(put.status).toBe(400);
      expect(((await put.json()) as any).errors.map((e: any) => e.path)).toContain('server.metricsPort');
    } finally {
      await g.stop();
    }
  });
});

describe('scrapes and probes at once', () => {
  it('concurrent /metrics scrapes share one collection, concurrent /readyz one probe write', async () => {
    // A Redis that takes its time (DEBUG SLEEP) makes every request arrive while the first is out.
    const own = await startRedis({ extraArgs: ['--enable-debug-command', 'yes'] });
    const g = await startGateway({ redisUrl: own.url });
    const freezer = new Redis(own.url);
    try {
      // A few shops with queues, so a collection costs store reads (queueStats per shop and role).
      const store = g.gateway.deps.store;
      for (const shop of ['m1', 'm2', 'm3']) await store.openSession(shop, 'b', Date.now());
      const count = async (op: string) => {
        const m = await g.gateway.deps.metrics.registry.getSingleMetricAsString('peakdesk_store_seconds');
        return Number(new RegExp(`peakdesk_store_seconds_count\\{op="${op}"\\} (\\d+)`).exec(m)?.[1] ?? 0);
      };
      const perCollection = (await store.shops()).length * g.gateway.deps.config().routing.roles.length;
      expect(perCollection).toBe(12);
      const slowly = async <T>(fn: () => Promise<T>) => {
        await freezer.ping();
        const frozen = freezer.call('DEBUG', 'SLEEP', '0.5');
        await new Promise((r) => setTimeout(r, 30));
        const out = await fn();
        await frozen;
        return out;
      };

      const before = await count('queueStats');
      const scrapes = await slowly(() => Promise.all(Array.from({ length: 20 }, () => scrape(g.http))));
      expect(scrapes.every((r) => r.status === 200 && r.text.includes('peakdesk_queue_depth'))).toBe(true);
      expect(((await count('queueStats')) - before) / perCollection).toBeLessThanOrEqual(2);

      const pingsBefore = await count('ping');
      const probes = await slowly(() => Promise.all(Array.from({ length: 20 }, () => fetch(`${g.http}/readyz`))));
      expect(probes.every((r) => r.status === 200)).toBe(true);
      expect((await count('ping')) - pingsBefore).toBeLessThanOrEqual(2);

      // One after another, each is fresh.
      const one = await count('queueStats');
      await scrape(g.http);
      await scrape(g.http);
      expect((await count('queueStats')) - one).toBe(2 * perCollection);
    } finally {
      freezer.disconnect();
      await g.stop();
      await own.stop();
    }
  });
});
