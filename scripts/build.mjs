// `npm run build`: the server (tsc → dist/), its Lua scripts beside it, the pages (Vite → dist/web),
// then a stamp whose mtime says when dist/ was last made whole (scripts/stale.mjs compares it).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (bin, args) => execFileSync(process.execPath, [`${root}node_modules/${bin}`, ...args], { cwd: root, stdio: 'inherit' });

run('typescript/bin/tsc', ['-p', 'tsconfig.build.json']);
mkdirSync(`${root}dist/store/redis/lua`, { recursive: true });
cpSync(`${root}src/store/redis/lua`, `${root}dist/store/redis/lua`, { recursive: true });
run('vite/bin/vite.js', ['build', '--config', 'src/web/vite.config.ts', '--logLevel', 'warn']);
writeFileSync(`${root}dist/.built`, `${new Date().toISOString()}\n`);
