import type { Config } from '../../config/schema.ts';
import type { FileStore } from './file-store.ts';
import { LocalFileStore } from './local-file-store.ts';
import { S3FileStore } from './s3-file-store.ts';

export function createFileStore(c: Config['uploads']): FileStore {
  return c.storage === 's3' ? new S3FileStore(c.s3) : new LocalFileStore(c.dir);
}
