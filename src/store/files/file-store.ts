import type { Attachment } from '../../protocol/frames.ts';

/** Who uploaded a file, for which session: what decides who may read it and attach it. */
export interface UploadMeta {
  id: string;
  shop: string;
  contentType: Attachment['contentType'];
  size: number;
  uploader: { kind: 'buyer' | 'agent'; id: string };
  sessionId: string;
  createdAt: number;
}

/**
 * Where uploads live: a local directory (one instance) or an S3-compatible bucket (several
 * instances). Metadata travels with the file, so any instance can check who may read it.
 */
export interface FileStore {
  readonly kind: 'local' | 's3';
  put(meta: UploadMeta, body: Buffer): Promise<void>;
  /** The metadata alone (attaching checks it on every message), null when gone. */
  head(shop: string, id: string): Promise<UploadMeta | null>;
  get(shop: string, id: string): Promise<{ meta: UploadMeta; body: Buffer } | null>;
  delete(shop: string, id: string): Promise<void>;
  /** Deletes at most `limit` files created before `before`; returns how many. */
  sweep(before: number, limit: number): Promise<number>;
}

/** Upload ids are server-made UUIDs; anything else never names a file. */
export const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Where a file is served (GET with the reader's token). */
export function uploadUrl(id: string): string {
  return `/v1/uploads/${id}`;
}
