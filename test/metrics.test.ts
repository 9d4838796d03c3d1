/**
 * /metrics after a scripted chat: the exposition parses with a Prometheus text parser, and
 * the series ops watch on Double 11 are there, labelled by shop and role.
 */
import parsePrometheusTextFormat, { type Family } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient } from './support/client.ts';

let redis: RedisHandle;
let g: RunningGateway;
beforeAll(async () => {
  redis = await startRedis();
  g = await startGateway({ redisUrl: redis.url });
});
afterAll(async () => {
  await g?.stop();
  await redis?.stop();
});

describe('/metrics', () => {
  it('parses, and shows the first-response histogram and the ops series after a chat', async () => {
    const b = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'm-buyer', kind: 'buyer' }));
    const { sessionId } = await b.next('welcome');
    const waiting = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'm-waiting', kind: 'buyer' }));
    await waiting.next('welcome');
    waiting.send({ type: 'message', clientMsgId: 'w', text: '我要退货' });
    await waiting.next('queue');
    b.send({ type: 'message', clientMsgId: '1', text: '你好，这件有货吗？' });
    await b.next('message', (m) => m.from === 'bot');
    const a = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'm-agent', kind: 'agent' }));
    await a.next('welcome');
    a.send({ type: 'ready', roles: ['pre-sale'], capacity: 2 });
    await a.next('offer');
    a.send({ type: 'accept', sessionId });
    await a.next('assigned');
    a.send({ type: 'message', sessionId, clientMsgId: 'r', text: '有货的亲' });
    await a.next('ack');
    a.send({ type: 'close', sessionId });
    await b.next('message', (m) => m.kind === 'rating_invite');
    b.send({ type: 'rate', score: 5 });
    await b.next('closed');

    const res = await fetch(`${g.http}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const families = new Map<string, Family>(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
    const family = (name: string, type: Family['type']) => {
      const f = families.get(name);
      expect(f, name).toBeDefined();
      expect(f!.type, name).toBe(type);
      return f!;
    };
    const value = (name: string, labels: Record<string, string>) =>
      Number(family(name, families.get(name)!.type).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value);

    // The golden 6 seconds: one first response, within 6 s, for this shop and role.
    family('peakdesk_first_response_seconds', 'HISTOGRAM');
    expect(text).toMatch(/^peakdesk_first_response_seconds_bucket\{le="6",shop="shop-1",role="pre-sale"\} 1$/m);
    expect(text).toMatch(/^peakdesk_first_response_seconds_count\{shop="shop-1",role="pre-sale"\} 1$/m);
    family('peakdesk_time_to_agent_seconds', 'HISTOGRAM');
    expect(text).toMatch(/^peakdesk_time_to_agent_seconds_count\{shop="shop-1",role="pre-sale"\} 1$/m);
    family('peakdesk_agent_reply_seconds', 'HISTOGRAM');
    expect(text).toMatch(/^peakdesk_agent_reply_seconds_bucket\{le="300",shop="shop-1",role="pre-sale"\} 1$/m);
    family('peakdesk_store_seconds', 'HISTOGRAM');
    expect(text).toMatch(/^peakdesk_store_seconds_count\{op="postBuyerMessage"\} [1-9]/m);
    // Only store calls are timed: no series for the store's own helpers, and none never called.
    const storeCounts = [...text.matchAll(/^peakdesk_store_seconds_count\{op="(\w+)"\} (\S+)$/gm)];
    expect(storeCounts.length).toBeGreaterThan(1);
    for (const [, op, n] of storeCounts) expect(Number(n), op).toBeGreaterThan(0);

    expect(value('peakdesk_queue_depth', { shop: 'shop-1', role: 'after-sale' })).toBe(1);
    expect(value('peakdesk_queue_depth', { shop: 'shop-1', role: 'pre-sale' })).toBe(0);
    expect(value('peakdesk_queue_oldest_wait_seconds', { shop: 'shop-1', role: 'after-sale' })).toBeGreaterThanOrEqual(0);
    expect(value('peakdesk_offers_total', { shop: 'shop-1', role: 'pre-sale', outcome: 'accepted' })).toBe(1);
    expect(value('peakdesk_sessions_opened_total', { shop: 'shop-1', role: 'pre-sale' })).toBe(1);
    expect(value('peakdesk_sessions_closed_total', { shop: 'shop-1', reason: 'agent_closed' })).toBe(1);
    expect(value('peakdesk_ratings_total', { shop: 'shop-1', role: 'pre-sale', score: '5' })).toBe(1);
    expect(value('peakdesk_bot_messages_total', { shop: 'shop-1', kind: 'reply', outcome: 'sent' })).toBeGreaterThanOrEqual(2);
    expect(value('peakdesk_connections', { kind: 'buyer' })).toBe(2);
    expect(value('peakdesk_connections', { kind: 'agent' })).toBe(1);
    await Promise.all([a.close(), b.close(), waiting.close()]);
  });
});
