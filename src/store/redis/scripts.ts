import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis, Cluster } from 'ioredis';
import { lifecycleLua } from '../../domain/lifecycle.ts';

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

/**
 * Reads every script once, with the shared prelude in front (the BullMQ way of including),
 * and in front of that the session lifecycle table, so Lua and TypeScript enforce one table.
 */
export function loadScripts(opts: { sharded?: boolean } = {}): Record<ScriptName, string> {
  // On a Cluster, sharded pub/sub keeps a shop's messages on the node that owns the shop
  // (the channels carry the shop's hash tag); classic PUBLISH would go to every node.
  const publish = `local PUBLISH = '${opts.sharded ? 'SPUBLISH' : 'PUBLISH'}'\n`;
  const prelude = `${publish}local OFFLINE_SHIFT = ${OFFLINE_SHIFT}\n${lifecycleLua()}${readFileSync(LUA_DIR + PRELUDE, 'utf8')}`;
  const files = new Set(readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua') && f !== PRELUDE));
  const out = {} as Record<ScriptName, string>;
  for (const name of SCRIPT_NAMES) {
    if (!files.delete(`${name}.lua`)) throw new Error(`missing Lua script ${name}.lua`);
    out[name] = `${prelude}\n${readFileSync(`${LUA_DIR}${name}.lua`, 'utf8')}`;
  }
  if (files.size) throw new Error(`Lua scripts not registered in SCRIPT_NAMES: ${[...files].join(', ')}`);
  return out;
}

type ScriptCall = (prefixKey: string, ...args: (string | number)[]) => Promise<unknown>;
export type ScriptClient = { [K in ScriptName]: ScriptCall };

/**
 * Registers the scripts as ioredis commands: EVALSHA by name, EVAL once when the server does
 * not know the script yet (after a restart or on a fresh cluster node).
 */
export function defineScripts(client: Redis | Cluster, opts: { sharded?: boolean } = {}): ScriptClient {
  const scripts = loadScripts(opts);
  for (const name of SCRIPT_NAMES) {
    client.defineCommand(name, { numberOfKeys: 1, lua: scripts[name] });
  }
  return client as unknown as ScriptClient;
}
