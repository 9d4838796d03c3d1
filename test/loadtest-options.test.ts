/**
 * The load tool's command line as a shop reads it: `--help` names every option the tool
 * accepts and every option the README's load-testing sections mention.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url);
const help = execFileSync(process.execPath, ['--import', 'tsx', 'loadtest/cli.ts', '--help'], { cwd: root, encoding: 'utf8' });
const named = (text: string) => new Set([...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]+)/g)].map((m) => m[1]!));

describe('load tool --help', () => {
  it('lists every option the tool parses', () => {
    const src = readFileSync(new URL('loadtest/options.ts', root), 'utf8');
    const block = src.slice(src.indexOf('options: {'), src.indexOf('\n  },\n});'));
    const parsed = [...block.matchAll(/^ {4}'?([a-z][a-z0-9-]*)'?: \{ type/gm)].map((m) => m[1]!);
    expect(parsed.length).toBeGreaterThan(30);
    const listed = named(help);
    expect(parsed.filter((o) => !listed.has(o))).toEqual([]);
  });

  it('lists every load-tool option the README mentions', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const lines = readme.split('\n').filter((l) => /npm run loadtest|loadtest\/|load tool|--sat-|--gateway-|--plan|--ceilings/.test(l) || /^- \*\*/.test(l));
    const section = readme.slice(readme.indexOf('## Load testing'));
    const mentioned = new Set([...named(lines.join('\n')), ...named(section.slice(0, section.indexOf('\n## ', 5)))]);
    // Options of other commands that the README names near the load tool.
    for (const other of ['out', 'max-semi-space-size', 'import', 'inspect', 'prof', 'cpu-prof', 'abandon-ms']) mentioned.delete(other);
    const listed = named(help);
    expect([...mentioned].filter((o) => !listed.has(o))).toEqual([]);
  });
});
