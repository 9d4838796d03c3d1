import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient } from './support/client.ts';

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const CARD = { kind: 'product', id: 'sku-1001', title: '羽绒服 加厚款', price: '¥399', url: 'https://shop.example.com/p/1001' } as const;

async function buyer(g: RunningGateway, id: string) {
  const c = await TestClient.connect(g.url, 'buyer', await g.token({ sub: id, kind: 'buyer', shop: 'shop-1' }));
  const welcome = await c.next('welcome');
  return { c, sessionId: welcome.sessionId as string };
}

async function agent(g: RunningGateway, id: string) {
  const c = await TestClient.connect(g.url, 'agent', await g.token({ sub: id, kind: 'agent', shop: 'shop-1' }));
  await c.next('welcome');
  c.send({ type: 'ready', roles: ['pre-sale'], capacity: 2 });
  return c;
}

describe.each(['redis', 'memory'] as const)('cards on messages (%s store)', (kind) => {
  let g: RunningGateway;
  beforeAll(async () => {
    g = await startGateway({
      ...(kind === 'redis' ? { redisUrl: redis.url } : {}),
      config: { moderation: { lists: [{ name: 'rivals', words: ['京东'], policy: 'mask' }, { name: 'off', words: ['微信'], policy: 'block' }] } },
    });
  });
  afterAll(async () => {
    await g?.stop();
  });

  it('a card survives resume and appears in assigned, and is published live', async () => {
    const { c: b, sessionId } = await buyer(g, `card-b-${kind}`);
    b.send({ type: 'message', clientMsgId: 'm1', text: '这件有货吗？', card: CARD });
    expect(await b.next('ack')).toMatchObject({ clientMsgId: 'm1', seq: 1 });
    await b.next('queue');
    const a = await agent(g, `card-a-${kind}`);
    const offer = await a.next('offer');
    expect(offer.preview[0]).toMatchObject({ seq: 1, from: 'buyer', card: CARD });
    a.send({ type: 'accept', sessionId });
    const assigned = await a.next('assigned');
    expect(assigned.transcript.find((e: any) => e.seq === 1)).toMatchObject({ from: 'buyer', text: '这件有货吗？', card: CARD });

    // A card without text, and a masked word in the agent's card title.
    const order = { kind: 'order', id: 'o-77', title: '京东同款 订单', status: 'paid' };
    a.send({ type: 'message', sessionId, clientMsgId: 'a1', card: order });
    const ack = await a.next('ack');
    const live = await b.next('message', (f) => f.seq === ack.seq);
    expect(live).toMatchObject({ from: 'agent', text: '', card: { ...order, title: '**同款 订单' } });
    b.send({ type: 'message', clientMsgId: 'm2', card: CARD });
    const ack2 = await b.next('ack', (f) => f.clientMsgId === 'm2');
    expect(await a.next('message', (f) => f.seq === ack2.seq)).toMatchObject({ from: 'buyer', text: '', card: CARD });
    await b.close();

    const again = await TestClient.connect(g.url, 'buyer', await g.token({ sub: `card-b-${kind}`, kind: 'buyer', shop: 'shop-1' }));
    expect(await again.next('welcome')).toMatchObject({ sessionId });
    again.send({ type: 'resume', lastSeq: 0 });
    expect(await again.next('message', (f) => f.seq === ack.seq)).toMatchObject({ card: { ...order, title: '**同款 订单' } });
    const a2 = await TestClient.connect(g.url, 'agent', await g.token({ sub: `card-a-${kind}`, kind: 'agent', shop: 'shop-1' }));
    await a2.next('welcome');
    a2.send({ type: 'resume', sessionId, lastSeq: 0 });
    expect(await a2.next('message', (f) => f.seq === 1)).toMatchObject({ card: CARD });
    expect(await a2.next('message', (f) => f.seq === ack2.seq)).toMatchObject({ card: CARD, text: '' });
    expect([...again.violations, ...a.violations, ...a2.violations, ...b.violations]).toEqual([]);
    await Promise.all([again.close(), a.close(), a2.close()]);
  });

  it('refuses a blocked word in an agent card title, an empty message and a bad card', async () => {
    const { c: b, sessionId } = await buyer(g, `card-b2-${kind}`);
    b.send({ type: 'message', clientMsgId: 'e1' });
    expect(await b.next('error')).toMatchObject({ code: 'bad_frame', ref: 'e1' });
    b.send({ type: 'message', clientMsgId: 'e2', card: { kind: 'coupon', id: 'x', title: 't' } });
    expect((await b.next('error')).message).toMatch(/card\.kind/);
    b.send({ type: 'message', clientMsgId: 'e3', card: { ...CARD, title: 'x'.repeat(201) } });
    expect((await b.next('error')).message).toMatch(/card\.title/);
    b.send({ type: 'message', clientMsgId: 'm1', text: '在吗' });
    await b.next('queue');
    const a = await agent(g, `card-a2-${kind}`);
    await a.next('offer');
    a.send({ type: 'accept', sessionId });
    await a.next('assigned');
    a.send({ type: 'message', sessionId, clientMsgId: 'a1', text: '您好', card: { kind: 'product', id: 'p', title: '加微信更便宜' } });
    expect(await a.next('error')).toMatchObject({ code: 'forbidden', ref: 'a1' });
    // A made-up attachment id is refused: only the sender's own uploads may be attached.
    a.send({ type: 'message', sessionId, clientMsgId: 'a2', attachments: [{ id: '00000000-0000-4000-8000-000000000000', contentType: 'image/png', size: 10 }] });
    expect(await a.next('error')).toMatchObject({ code: 'forbidden', ref: 'a2' });
    await Promise.all([b.close(), a.close()]);
  });
});
