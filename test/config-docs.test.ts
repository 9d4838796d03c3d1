import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configPaths } from '../src/config/schema-paths.ts';

/** README.md from `## Configuration` up to the next `## ` heading (its `###` subsections included). */
function configSection(readme: string): string {
  const heading = /^## Configuration[ \t]*$/m.exec(readme);
  if (!heading) throw new Error('README.md has no "## Configuration" section');
  const rest = readme.slice(heading.index + heading[0].length);
  const next = /^## /m.exec(rest);
  return next ? rest.slice(0, next.index) : rest;
}

/** Every `` `name` `` in the first column of the section's tables: the fields it documents. */
function firstColumn(section: string): string[] {
  return section
    .split('\n')
    .filter((line) => line.trimStart().startsWith('|'))
    .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
}

/**
 * Schema paths without a row of their own. Stricter than "mentioned somewhere": a path named
 * only in another field's explanation does not count.
 */
function undocumented(section: string, paths: string[]): string[] {
  const named = new Set(firstColumn(section));
  return paths.filter((p) => !named.has(p));
}

/** First-column names that look like config paths (`<top-level key>.…`) but are not in the schema. */
function stale(section: string, paths: string[]): string[] {
  const known = new Set(paths);
  const topKeys = new Set(paths.map((p) => p.split('.')[0]!));
  return firstColumn(section).filter((name) => name.includes('.') && topKeys.has(name.split('.')[0]!) && !known.has(name));
}

const paths = configPaths();
const section = configSection(readFileSync(new URL('../README.md', import.meta.url), 'utf8'));

describe('README configuration table', () => {
  it('is checked against a real list of schema paths', () => {
    expect(paths).toEqual(expect.arrayContaining(['server.port', 'sessions.retentionMs', 'intent.rules[].role', 'bots.roles.<role>', 'shops.<shopId>.bots']));
    expect(paths.length).toBeGreaterThan(40);
    expect(new Set(paths).size).toBe(paths.length);
    expect(new Set(paths.map((p) => p.split('.')[0]))).toEqual(
      new Set(['server', 'redis', 'auth', 'routing', 'intent', 'bots', 'moderation', 'workbench', 'shop', 'shops', 'sessions', 'context', 'webhooks[]', 'webhookDelivery', 'uploads', 'plan', 'dashboard']),
    );
    // The checks below do catch a gap and a stale row.
    const sample = '| `server.port`, `server.gone` | `8080` | see `server.host` |';
    expect(undocumented(sample, ['server.port', 'server.host'])).toEqual(['server.host']);
    expect(stale(sample, ['server.port', 'server.host'])).toEqual(['server.gone']);
  });

  it('has a row for every config field', () => {
    const missing = undocumented(section, paths);
    expect(missing, `README.md "## Configuration" has no row for (first column, as \`path\`):\n  ${missing.join('\n  ')}\n`).toEqual([]);
  });

  it('documents no field the schema does not have', () => {
    const gone = stale(section, paths);
    expect(gone, `README.md "## Configuration" table names fields that are not in the schema:\n  ${gone.join('\n  ')}\n`).toEqual([]);
  });
});
