import { mkdir, readFile, readdir, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileStore, UploadMeta } from './file-store.ts';

/**
 * Uploads in a local directory: `<dir>/<shop>/<id>` and its metadata beside it as
 * `<id>.json`. Shop ids are percent-encoded into the folder name so no id names a path
 * outside `dir`. One instance only: several instances need the S3 store.
 */
export class LocalFileStore implements FileStore {
  readonly kind = 'local' as const;
  constructor(private readonly dir: string) {}

  private folder(shop: string): string {
    return join(this.dir, encodeURIComponent(shop).replace(/\./g, '%2E'));
  }

  async put(meta: UploadMeta, body: Buffer): Promise<void> {
    const folder = this.folder(meta.shop);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, meta.id), body);
    // The metadata last and by rename: a file without it is never served, one with it is whole.
    const tmp = join(folder, `${meta.id}.json.tmp`);
    await writeFile(tmp, JSON.stringify(meta));
    await rename(tmp, join(folder, `${meta.id}.json`));
  }

  async head(shop: string, id: string): Promise<UploadMeta | null> {
    try {
      return JSON.parse(await readFile(join(this.folder(shop), `${id}.json`), 'utf8')) as UploadMeta;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async get(shop: string, id: string): Promise<{ meta: UploadMeta; body: Buffer } | null> {
    const meta = await this.head(shop, id);
    if (!meta) return null;
    try {
      return { meta, body: await readFile(join(this.folder(shop), id)) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(shop: string, id: string): Promise<void> {
    const folder = this.folder(shop);
    await rm(join(folder, `${id}.json`), { force: true });
    await rm(join(folder, id), { force: true });
  }

  async sweep(before: number, limit: number): Promise<number> {
    let removed = 0;
    let shops: string[];
    try {
      shops = await readdir(this.dir);
    } catch {
      return 0;
    }
    for (const folder of shops) {
      const names = await readdir(join(this.dir, folder)).catch(() => [] as string[]);
      for (const name of names) {
        if (removed >= limit) return removed;
        if (!name.endsWith('.json')) continue;
        const id = name.slice(0, -5);
        const meta = await this.head(decodeURIComponent(folder), id).catch(() => null);
        if (meta && meta.createdAt < before) {
          await this.delete(meta.shop, id);
          removed++;
        }
      }
    }
    return removed;
  }
}
