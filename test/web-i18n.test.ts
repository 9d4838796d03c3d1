/** The pages' two catalogues carry the same keys and the same placeholders in each string. */
import { describe, expect, it } from 'vitest';
import { zhCN } from '../src/web/shared/i18n/zh-CN.ts';
import { en } from '../src/web/shared/i18n/en.ts';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('message catalogues', () => {
  it('have the same keys', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
  });

  it('use the same placeholders per key, and no string is empty', () => {
    for (const [key, zh] of Object.entries(zhCN)) {
      const other = (en as Record<string, string>)[key]!;
      expect(placeholders(other), key).toEqual(placeholders(zh));
      expect(zh.length && other.length, key).toBeGreaterThan(0);
    }
  });

  it('hold every key the pages name in data-i18n attributes', () => {
    const root = path.resolve('src/web');
    const keys = new Set<string>();
    for (const dir of ['agent', 'buyer', 'ops']) {
      const html = readFileSync(path.join(root, dir, 'index.html'), 'utf8');
      for (const m of html.matchAll(/data-i18n(?:-placeholder|-title|-aria)?="([^"]+)"/g)) keys.add(m[1]!);
    }
    expect(keys.size).toBeGreaterThan(20);
    for (const k of keys) expect(Object.hasOwn(zhCN, k), k).toBe(true);
    expect(readdirSync(path.join(root, 'shared/i18n')).sort()).toEqual(['en.ts', 'index.ts', 'zh-CN.ts']);
  });
});
