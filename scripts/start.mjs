// `npm start`: builds when dist/ is stale, then runs the compiled gateway in this very process,
// so the signals npm forwards to its child (SIGTERM, SIGINT) reach the gateway itself.
import { execFileSync } from 'node:child_process';
import { distIsStale, root } from './stale.mjs';

if (distIsStale()) {
  process.stderr.write('dist/ is older than the sources: building (npm run build)\n');
  execFileSync(process.execPath, [`${root}scripts/build.mjs`], { cwd: root, stdio: ['ignore', process.stderr, 'inherit'] });
}
await import(`${root}dist/main.js`);
