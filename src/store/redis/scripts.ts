import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis, Cluster } from 'ioredis';
import { lifecycleLua } from '../lifecycle.ts';
import { inlineKeyCalls, keysLua } from './keys.ts';

/** Added to the queue score of a session whose buyer is offline: behind every online one (see _prelude.lua). */
export const OFFLINE_SHIFT = 1e13;

const LUA_DIR = fileURLToPath(new URL('./lua/', import.meta.url));
const PRELUDE = '_prelude.lua';

export const SCRIPT_NAMES = [
  'openSession',
  'appendEvent',
  'rate',
  'agentConnect',
  'agentDisconnect',
  'agentStatus',
  'accept',
  'releaseOffer',
  'transfer',
  'close',
  'finish',
  'replyMiss',
  'expireGrace',
  'dispatch',
  'buyerConnect',
  'buyerDisconnect',
  'planRecord',
  'limitBuyer',
  'limitUpload',
  'sweepShop',
  'reschedule',
  'setBuyer',
  'recentRecord',
  'recentSample',
  'whRead',
  'whSettle',
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

/** The parts every script shares, before its own text: constants, the lifecycle table, the prelude. */
function preludeOf(opts: { sharded?: boolean }): string {
  // On a Cluster, sharded pub/sub keeps a shop's messages on the node that owns the shop
  // (the channels carry the shop's hash tag); classic PUBLISH would go to every node.
  const publish = `local PUBLISH = '${opts.sharded ? 'SPUBLISH' : 'PUBLISH'}'\n`;
  return `${publish}local OFFLINE_SHIFT = ${OFFLINE_SHIFT}\n${lifecycleLua()}${keysLua()}${inlineKeyCalls(readFileSync(LUA_DIR + PRELUDE, 'utf8'))}`;
}

function bodies(): Record<ScriptName, string> {
  const files = new Set(readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua') && f !== PRELUDE));
  const out = {} as Record<ScriptName, string>;
  for (const name of SCRIPT_NAMES) {
    if (!files.delete(`${name}.lua`)) throw new Error(`missing Lua script ${name}.lua`);
    out[name] = inlineKeyCalls(readFileSync(`${LUA_DIR}${name}.lua`, 'utf8'));
  }
  if (files.size) throw new Error(`Lua scripts not registered in SCRIPT_NAMES: ${[...files].join(', ')}`);
  return out;
}

/**
 * Every script as EVAL text: the shared prelude in front (the BullMQ way of including), and
 * in front of that the session lifecycle table, so Lua and TypeScript enforce one table.
 * KEYS[1] is the shop's key prefix, P to the prelude and the script.
 */
export function loadScripts(opts: { sharded?: boolean } = {}): Record<ScriptName, string> {
  const prelude = `local P = KEYS[1]\n${preludeOf(opts)}`;
  const body = bodies();
  const out = {} as Record<ScriptName, string>;
  for (const name of SCRIPT_NAMES) out[name] = `${prelude}\n${body[name]}`;
  return out;
}

/**
 * The same scripts as one Redis 7 function library: the prelude runs once when the library
 * is loaded, each script becomes a function of (KEYS, ARGV) named after it, which sets P for
 * the prelude's helpers first. Same text, same behaviour as the EVAL form; the embedded engine
 * uses it because its VM rebuilding the prelude's tables and closures on every call was a
 * large part of each call's cost (Redis' own Lua does that in well under a microsecond).
 */
export function loadLibrary(opts: { sharded?: boolean } = {}): string {
  const body = bodies();
  const fns = SCRIPT_NAMES.map((name) => `redis.register_function('${name}', function(KEYS, ARGV)\nP = KEYS[1]\n${body[name]}\nend)\n`);
  return `#!lua name=peakdesk\nlocal P\n${preludeOf(opts)}\n${fns.join('')}`;
}

type ScriptCall = (prefixKey: string, ...args: (string | number)[]) => Promise<unknown>;
export type ScriptClient = { [K in ScriptName]: ScriptCall };

type FunctionClient = {
  function(sub: 'LOAD', mode: 'REPLACE', code: string): Promise<unknown>;
  fcall(name: string, numkeys: number, ...args: (string | number)[]): Promise<unknown>;
};

/**
 * Registers the scripts as ioredis commands: EVALSHA by name, EVAL once when the server does
 * not know the script yet (after a restart or on a fresh cluster node). With `library` (an
 * in-process engine, which cannot lose it) they are loaded once as a function library and
 * called with FCALL instead.
 */
export function defineScripts(client: Redis | Cluster, opts: { sharded?: boolean; library?: boolean } = {}): ScriptClient {
  if (opts.library) {
    const fc = client as unknown as FunctionClient;
    const loaded = fc.function('LOAD', 'REPLACE', loadLibrary(opts));
    const out = {} as ScriptClient;
    for (const name of SCRIPT_NAMES) out[name] = (prefixKey, ...args) => loaded.then(() => fc.fcall(name, 1, prefixKey, ...args));
    return out;
  }
  const scripts = loadScripts(opts);
  for (const name of SCRIPT_NAMES) {
    client.defineCommand(name, { numberOfKeys: 1, lua: scripts[name] });
  }
  return client as unknown as ScriptClient;
}
