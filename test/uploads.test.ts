import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { createFileStore } from '../src/store/files/index.ts';
import { LocalFileStore } from '../src/store/files/local-file-store.ts';
import { S3FileStore, s3Key } from '../src/store/files/s3-file-store.ts';
import type { UploadMeta } from '../src/store/files/file-store.ts';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient } from './support/client.ts';
import { ERROR_CODES } from '../src/protocol/errors.ts';

/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
/** The start of an ELF executable, dressed up as a PNG by name and declared type. */
const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00]), Buffer.alloc(120)]);

let redis: RedisHandle;
let g: RunningGateway;
let dir: string;
beforeAll(async () => {
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), 'pd-uploads-'));
  g = await startGateway({ redisUrl: redis.url, config: { uploads: { dir, maxBytes: 4_096, perBuyer: { perSecond: 0.1, burst: 3 } } } });
});
afterAll(async () => {
  await g?.stop();
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function upload(token: string, body: Buffer, name = 'x.png', type = 'image/png', query = '') {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(body)], { type }), name);
  const res = await fetch(`${g.http}/v1/uploads${query}`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const buyerToken = (sub: string, shop = 'shop-1') => g.token({ sub, kind: 'buyer', shop });

describe('POST /v1/uploads and GET of its url', () => {
  it('accepts a PNG and serves it only to the session\'s buyer, its agent and the shop\'s admins', async () => {
    const b = await TestClient.connect(g.url, 'buyer', await buyerToken('up-b1'));
    const { sessionId } = await b.next('welcome');
    const up = await upload(await buyerToken('up-b1'), PNG);
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ contentType: 'image/png', size: PNG.length, url: `/v1/uploads/${up.body.id}` });

    const get = (token?: string) => fetch(`${g.http}${up.body.url}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    const own = await get(await buyerToken('up-b1'));
    expect(own.status).toBe(200);
    expect(own.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await own.arrayBuffer()).equals(PNG)).toBe(true);
    expect((await fetch(`${g.http}${up.body.url}?token=${await buyerToken('up-b1')}`)).status).toBe(200);
    expect((await get(await buyerToken('up-other'))).status).toBe(403);
    expect((await get(await buyerToken('up-b1', 'shop-2'))).status).toBe(404);
    expect((await get()).status).toBe(401);
    expect((await get(await g.token({ sub: 'ops', kind: 'admin', shop: 'shop-1' }))).status).toBe(200);
    expect((await get(await g.token({ sub: 'up-a1', kind: 'agent', shop: 'shop-1' }))).status).toBe(403);

    // Attached to a message: the agent gets it with the upload's own type and size, and may read it.
    b.send({ type: 'message', clientMsgId: 'm1', text: '收到的货破了', attachments: [{ id: up.body.id, contentType: 'image/gif', size: 1, name: 'broken.png' }] });
    expect(await b.next('ack')).toMatchObject({ seq: 1 });
    const a = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'up-a1', kind: 'agent', shop: 'shop-1' }));
    await a.next('welcome');
    a.send({ type: 'ready', roles: ['pre-sale', 'after-sale', 'order-edit', 'bargaining'], capacity: 1 });
    await a.next('offer');
    a.send({ type: 'accept', sessionId });
    const assigned = await a.next('assigned');
    expect(assigned.transcript[0].attachments).toEqual([{ id: up.body.id, contentType: 'image/png', size: PNG.length, name: 'broken.png', url: up.body.url }]);
    expect((await get(await g.token({ sub: 'up-a1', kind: 'agent', shop: 'shop-1' }))).status).toBe(200);
    // Someone else's upload cannot be attached.
    const other = await TestClient.connect(g.url, 'buyer', await buyerToken('up-other'));
    await other.next('welcome');
    other.send({ type: 'message', clientMsgId: 'o1', text: 'hi', attachments: [{ id: up.body.id, contentType: 'image/png', size: PNG.length }] });
    expect(await other.next('error')).toMatchObject({ code: 'forbidden', ref: 'o1' });
    expect([...a.violations, ...b.violations]).toEqual([]);
    await Promise.all([a.close(), b.close(), other.close()]);
  });

  it('refuses a renamed executable by its content, an oversize file with 413, and too many uploads with 429', async () => {
    const before = (await readdir(dir, { recursive: true })).length;
    const elf = await upload(await buyerToken('up-b2'), ELF, 'x.png', 'image/png');
    expect(elf.status).toBe(415);
    expect(elf.body.message).toMatch(/image\/png/);
    const big = await upload(await buyerToken('up-b2'), Buffer.concat([PNG, Buffer.alloc(5_000)]));
    expect(big.status).toBe(413);
    expect((await readdir(dir, { recursive: true })).length).toBe(before);
    // The bucket holds 3; two went above.
    expect((await upload(await buyerToken('up-b2'), PNG)).status).toBe(200);
    expect((await upload(await buyerToken('up-b2'), PNG)).status).toBe(429);
    expect((await upload(await buyerToken('up-b3'), PNG)).status).toBe(200);
    const noFile = new FormData();
    noFile.append('other', 'x');
    const res = await fetch(`${g.http}/v1/uploads`, { method: 'POST', body: noFile, headers: { authorization: `Bearer ${await buyerToken('up-b4')}` } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'bad_frame' });
  });

  it('answers every refusal as { error, message } with a stable protocol code', async () => {
    const codes = new Set(ERROR_CODES as readonly string[]);
    const token = await buyerToken('up-codes');
    const answers = [
      await upload(token, ELF),
      await upload(token, Buffer.concat([PNG, Buffer.alloc(5_000)])),
      await upload('not-a-token', PNG),
      await (async () => {
        const res = await fetch(`${g.http}/v1/uploads`, { method: 'POST', body: '{"file":1}', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
        return { status: res.status, body: (await res.json()) as Record<string, any> };
      })(),
      await (async () => {
        const res = await fetch(`${g.http}/v1/uploads/nope`, { headers: { authorization: `Bearer ${token}` } });
        return { status: res.status, body: (await res.json()) as Record<string, any> };
      })(),
    ];
    expect(answers.map((a) => [a.status, a.body.error])).toEqual([
      [415, 'bad_frame'],
      [413, 'too_large'],
      [401, 'unauthorized'],
      [415, 'bad_frame'],
      [404, 'unknown_session'],
    ]);
    for (const a of answers) {
      expect(Object.keys(a.body).sort()).toEqual(['error', 'message']);
      expect(codes.has(a.body.error)).toBe(true);
    }
  });

  it('limits a buyer\'s uploads across instances (the bucket is in the store)', async () => {
    const other = await startGateway({ redisUrl: redis.url, keyPrefix: g.gateway.deps.config().redis.keyPrefix, config: { uploads: { dir, maxBytes: 4_096, perBuyer: { perSecond: 0.1, burst: 3 } } } });
    try {
      const token = await buyerToken('up-spread');
      const at = (gw: RunningGateway) => {
        const form = new FormData();
        form.append('file', new Blob([new Uint8Array(PNG)], { type: 'image/png' }), 'x.png');
        return fetch(`${gw.http}/v1/uploads`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
      };
      // Three fit the bucket, wherever they land; the fourth is refused on either instance.
      expect([await at(g), await at(other), await at(g)]).toEqual([200, 200, 200]);
      expect(await at(other)).toBe(429);
    } finally {
      await other.stop();
    }
  });

  it('lets an agent upload only for a session it holds', async () => {
    const agentToken = await g.token({ sub: 'up-a9', kind: 'agent', shop: 'shop-1' });
    expect((await upload(agentToken, PNG)).status).toBe(400);
    expect((await upload(agentToken, PNG, 'x.png', 'image/png', '?sessionId=nope')).status).toBe(404);
  });
});

describe('file stores', () => {
  const meta = (id: string, createdAt: number): UploadMeta => ({
    id, shop: 'shop/1', contentType: 'image/png', size: PNG.length, uploader: { kind: 'buyer', id: 'b' }, sessionId: 's', createdAt,
  });

  it('the local store keeps metadata beside the file and sweeps by age, at most `limit` a pass', async () => {
    const d = await mkdtemp(join(tmpdir(), 'pd-local-'));
    try {
      const s = new LocalFileStore(d);
      const [old1, old2, fresh] = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', '33333333-3333-4333-8333-333333333333'];
      await s.put(meta(old1, 1_000), PNG);
      await s.put(meta(old2, 2_000), PNG);
      await s.put(meta(fresh, 9_000), PNG);
      expect((await s.get('shop/1', fresh))?.body.equals(PNG)).toBe(true);
      expect(await s.head('shop/1', 'missing')).toBeNull();
      expect(await s.sweep(5_000, 1)).toBe(1);
      expect(await s.sweep(5_000, 10)).toBe(1);
      expect(await s.head('shop/1', old1)).toBeNull();
      expect(await s.head('shop/1', old2)).toBeNull();
      expect(await s.head('shop/1', fresh)).not.toBeNull();
      expect(await readdir(d)).toEqual(['shop%2F1']);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  // Without an S3 server only the construction and the key layout can be checked here.
  it('the S3 store is built from config, with keys <prefix><shop>/<id>', async () => {
    const c = parseConfig({ uploads: { storage: 's3', s3: { endpoint: 'http://127.0.0.1:9', bucket: 'b', accessKeyId: 'k', secretAccessKey: 's' } } });
    const s = await createFileStore(c.uploads);
    expect(s).toBeInstanceOf(S3FileStore);
    expect((s as S3FileStore).key('shop/1', 'abc')).toBe('uploads/shop%2F1/abc');
    expect(s3Key('p/', 'a', 'b')).toBe('p/a/b');
    expect(await (s as S3FileStore).client.config.region()).toBe('us-east-1');
    expect((s as S3FileStore).client.config.forcePathStyle).toBe(true);
    expect(await createFileStore(parseConfig({}).uploads)).toBeInstanceOf(LocalFileStore);
  });
});
