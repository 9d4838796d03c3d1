import type { Config } from '../../config/schema.ts';
import type { FileStore } from './file-store.ts';
import { LocalFileStore } from './local-file-store.ts';

/** The S3 store is loaded only when configured: the AWS SDK is large and most runs never need it. */
export async function createFileStore(c: Config['uploads']): Promise<FileStore> {
  if (c.storage === 'local') return new LocalFileStore(c.dir);
  const { S3FileStore } = await import('./s3-file-store.ts');
  return new S3FileStore(c.s3);
}
