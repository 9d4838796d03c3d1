import { S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand, DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Config } from '../../config/schema.ts';
import type { FileStore, UploadMeta } from './file-store.ts';

type S3Config = Config['uploads']['s3'];

/** The object key of an upload: `<prefix><shop>/<id>`, the shop percent-encoded so it stays one path segment. */
export function s3Key(prefix: string, shop: string, id: string): string {
  return `${prefix}${encodeURIComponent(shop)}/${id}`;
}

/** S3 user metadata is string-valued and travels as headers: the whole record as one JSON value. */
const META = 'peakdesk';

function notFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/** Uploads in an S3-compatible bucket, shared by every gateway instance. */
export class S3FileStore implements FileStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;

  constructor(private readonly c: S3Config) {
    this.client = new S3Client({
      region: c.region,
      forcePathStyle: c.forcePathStyle,
      ...(c.endpoint ? { endpoint: c.endpoint } : {}),
      ...(c.accessKeyId && c.secretAccessKey ? { credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey } } : {}),
    });
  }

  key(shop: string, id: string): string {
    return s3Key(this.c.prefix, shop, id);
  }

  async put(meta: UploadMeta, body: Buffer): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.c.bucket, Key: this.key(meta.shop, meta.id), Body: body, ContentType: meta.contentType, Metadata: { [META]: encodeURIComponent(JSON.stringify(meta)) } }),
    );
  }

  async head(shop: string, id: string): Promise<UploadMeta | null> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.c.bucket, Key: this.key(shop, id) }));
      const raw = r.Metadata?.[META];
      return raw ? (JSON.parse(decodeURIComponent(raw)) as UploadMeta) : null;
    } catch (err) {
      if (notFound(err)) return null;
      throw err;
    }
  }

  async get(shop: string, id: string): Promise<{ meta: UploadMeta; body: Buffer } | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.c.bucket, Key: this.key(shop, id) }));
      const raw = r.Metadata?.[META];
      if (!raw || !r.Body) return null;
      return { meta: JSON.parse(decodeURIComponent(raw)) as UploadMeta, body: Buffer.from(await r.Body.transformToByteArray()) };
    } catch (err) {
      if (notFound(err)) return null;
      throw err;
    }
  }

  async delete(shop: string, id: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.c.bucket, Key: this.key(shop, id) }));
  }

  /** One listing page per pass; a bucket lifecycle rule on the prefix is the cheaper way (README). */
  async sweep(before: number, limit: number): Promise<number> {
    const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.c.bucket, Prefix: this.c.prefix, MaxKeys: Math.min(limit, 1_000) }));
    let removed = 0;
    for (const o of page.Contents ?? []) {
      if (!o.Key || !o.LastModified || o.LastModified.getTime() >= before) continue;
      await this.client.send(new DeleteObjectCommand({ Bucket: this.c.bucket, Key: o.Key }));
      removed++;
    }
    return removed;
  }
}
