import { execFileSync } from 'node:child_process';

/** Integration tests start their own redis-server; say clearly how to get one when it is missing. */
export default function setup(): void {
  for (const bin of ['redis-server', 'redis-cli']) {
    try {
      execFileSync(bin, ['--version'], { stdio: 'ignore' });
    } catch {
      throw new Error(`${bin} is not on PATH: install it (Debian: apt-get install redis-server) or run bash .ci/run`);
    }
  }
}
