import { execFileSync } from 'node:child_process';
import { distIsStale } from '../scripts/stale.mjs';

/**
 * Integration tests start their own redis-server; say clearly how to get one when it is
 * missing. The process tests run the compiled gateway (dist/), built here when stale, once.
 */
export default function setup(): void {
  for (const bin of ['redis-server', 'redis-cli']) {
    try {
      execFileSync(bin, ['--version'], { stdio: 'ignore' });
    } catch {
      throw new Error(`${bin} is not on PATH: install it (Debian: apt-get install redis-server) or run bash .ci/run`);
    }
  }
  if (distIsStale()) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: ['ignore', 'inherit', 'inherit'] });
}
