/** What the self-contained HTML reports share (load test, staffing plan): Chart.js inlined, escaping. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Chart.js from the chart.js dev dependency, to inline: the report opens without network access. */
export function chartJs(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('chart.js');
  const dist = main.includes('/dist/') ? dirname(main) : join(dirname(main), 'dist');
  return readFileSync(join(dist, 'chart.umd.min.js'), 'utf8');
}

export const esc = (s: unknown) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
