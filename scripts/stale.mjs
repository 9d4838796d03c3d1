// Whether dist/ is older than what it is built from. A deployment without sources (the Docker
// image copies only dist/) is never stale.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
const INPUTS = ['src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs'];

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)));
  return max;
}

export function distIsStale() {
  if (!existsSync(join(root, 'src'))) return false;
  const stamp = join(root, 'dist', '.built');
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  return INPUTS.some((p) => existsSync(join(root, p)) && newest(join(root, p)) > built);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(`${distIsStale() ? 'stale' : 'fresh'}\n`);
