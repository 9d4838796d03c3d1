/**
 * docs/protocol.md against the zod schemas of src/protocol: every frame of every direction,
 * each with exactly its top-level fields (optional ones written `name?`), and the error codes.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DIRECTIONS, framesOf } from '../src/protocol/asyncapi.ts';
import { ERROR_CODES } from '../src/protocol/errors.ts';
import { agentInbound } from '../src/protocol/frames.ts';

const DOC = readFileSync('docs/protocol.md', 'utf8');

/** The table rows under `### title` (or `## title`) up to the next heading: first cell and second cell. */
function rows(doc: string, title: string): { first: string; second: string }[] {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => /^#{2,3} /.test(l) && l.replace(/^#+ /, '').trim() === title);
  if (start < 0) return [];
  const out: { first: string; second: string }[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,3} /.test(line)) break;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length < 2 || /^-+$/.test(cells[0]!) || cells[0] === 'type' || cells[0] === 'code') continue;
    out.push({ first: cells[0]!, second: cells[1]! });
  }
  return out;
}

const ticks = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

type Direction = { title: string; union: { options: readonly z.ZodObject[] } };

/** What the doc gets wrong about these directions' frames, as readable lines (empty = all documented). */
export function undocumented(doc: string, directions: readonly Direction[]): string[] {
  const problems: string[] = [];
  for (const d of directions) {
    const documented = new Map(rows(doc, d.title).map((r) => [ticks(r.first)[0], new Set(ticks(r.second))]));
    if (!documented.size) problems.push(`no "${d.title}" table`);
    const frames = framesOf(d.union);
    for (const { type, schema } of frames) {
      const fields = documented.get(type);
      if (!fields) {
        problems.push(`${d.title}: frame \`${type}\` is not documented`);
        continue;
      }
      const expected = new Set(
        Object.entries(schema.shape)
          .filter(([k]) => k !== 'type')
          .map(([k, v]) => (v.safeParse(undefined).success ? `${k}?` : k)),
      );
      for (const f of expected) if (!fields.has(f)) problems.push(`${d.title}: \`${type}\` lacks field \`${f}\``);
      for (const f of fields) if (!expected.has(f)) problems.push(`${d.title}: \`${type}\` documents \`${f}\`, which the schema does not have`);
    }
    for (const type of documented.keys()) {
      if (!frames.some((f) => f.type === type)) problems.push(`${d.title}: documents frame \`${type}\`, which the schema does not have`);
    }
  }
  return problems;
}

describe('docs/protocol.md', () => {
  it('documents every frame and field of the zod schemas, and nothing else', () => {
    expect(undocumented(DOC, DIRECTIONS)).toEqual([]);
  });

  it('lists exactly the stable error codes', () => {
    const codes = rows(DOC, 'Error codes').map((r) => ticks(r.first)[0]);
    expect(codes).toEqual([...ERROR_CODES]);
  });

  it('fails when a frame changes without the doc', () => {
    const agent = DIRECTIONS.find((d) => d.id === 'agentToServer')!;
    const options = agentInbound.options as unknown as z.ZodObject[];
    const changed = (replace: (o: z.ZodObject) => z.ZodObject | null, extra: z.ZodObject[] = []) => [
      { title: agent.title, union: { options: [...options.map(replace).filter((o): o is z.ZodObject => o !== null), ...extra] } },
    ];
    const isReady = (o: z.ZodObject) => (o.shape.type as z.ZodLiteral<string>).value === 'ready';
    // A new field, a field made optional, a new frame, a frame removed: each is caught.
    expect(undocumented(DOC, changed((o) => (isReady(o) ? o.extend({ shift: z.string() }) : o)))).toEqual([
      'Agent → server: `ready` lacks field `shift`',
    ]);
    expect(undocumented(DOC, changed((o) => (isReady(o) ? o.extend({ capacity: z.number().optional() }) : o)))).toEqual([
      'Agent → server: `ready` lacks field `capacity?`',
      'Agent → server: `ready` documents `capacity`, which the schema does not have',
    ]);
    expect(undocumented(DOC, changed((o) => o, [z.object({ type: z.literal('snooze'), sessionId: z.string() })]))).toEqual([
      'Agent → server: frame `snooze` is not documented',
    ]);
    expect(undocumented(DOC, changed((o) => (isReady(o) ? null : o)))).toEqual([
      'Agent → server: documents frame `ready`, which the schema does not have',
    ]);
  });

  it('is what the README links to', () => {
    expect(readFileSync('README.md', 'utf8')).toContain('](docs/protocol.md)');
  });
});
