// `npm run token`: the compiled token CLI (dist/cli/token.js), built first when dist/ is stale.
import { execFileSync } from 'node:child_process';
import { distIsStale, root } from './stale.mjs';

if (distIsStale()) execFileSync(process.execPath, [`${root}scripts/build.mjs`], { cwd: root, stdio: ['ignore', process.stderr, 'inherit'] });
await import(`${root}dist/cli/token.js`);
