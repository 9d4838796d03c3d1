/**
 * The gateway's node flags (a larger young generation, see README "Node flags") are given where
 * it is started: `npm start`, the image's ENTRYPOINT, and the load tool, which must measure the
 * gateway the shop runs. They cannot come from the code itself (V8 sizes its heap before any
 * script runs), so this test keeps the three places alike.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GATEWAY_NODE_FLAGS } from '../loadtest/processes.ts';

const root = new URL('..', import.meta.url).pathname;
const flagsIn = (command: readonly string[]) => command.filter((w) => w.startsWith('--'));

describe('the gateway runs with the same node flags wherever it starts', () => {
  it('npm start, the Dockerfile and the load tool agree', () => {
    const start = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: { start: string } }).scripts.start;
    const entry = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(`${root}Dockerfile`, 'utf8'))?.[1];
    expect(entry).toBeDefined();
    expect(GATEWAY_NODE_FLAGS.length).toBeGreaterThan(0);
    expect(flagsIn(start.split(/\s+/))).toEqual(GATEWAY_NODE_FLAGS);
    expect(flagsIn(JSON.parse(entry!) as string[])).toEqual(GATEWAY_NODE_FLAGS);
  });
});
