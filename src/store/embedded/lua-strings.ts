import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { luaS_bless } = require('fengari/src/lstring.js');
const { pushsvalue2s } = require('fengari/src/lobject.js');

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

type Cached = Uint8Array & { js?: string };
/** Strings up to this many bytes keep their JS form on their bytes (key names, fields, ids). */
const CACHE_BYTES = 256;

/**
 * A Lua string (bytes) as a JS string; invalid UTF-8 becomes U+FFFD rather than throwing.
 * A Lua string's bytes never change, and the same ones come back on every call (a script's
 * constants, interned short strings), so short ones remember their decoding.
 */
export function jsString(bytes: Uint8Array): string {
  const cached = (bytes as Cached).js;
  if (cached !== undefined) return cached;
  const s = decode(bytes);
  if (bytes.length <= CACHE_BYTES) (bytes as Cached).js = s;
  return s;
}

function decode(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n <= 512) {
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  return decoder.decode(bytes);
}

/** A JS string as a Lua string (UTF-8); ASCII, the common case, without an encoder call. */
export function luaString(s: string): Uint8Array {
  const n = s.length;
  if (n > 64) return encoder.encode(s);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return encoder.encode(s);
    out[i] = c;
  }
  return out;
}

/** Lua strings made from short JS strings: the same field names, states and ids come back on every call. */
const TSTRINGS = new Map<string, unknown>();
const TSTRING_CHARS = 64;
const MAX_TSTRINGS = 20_000;

/**
 * lua_pushstring without its copy: the bytes are fresh (luaString made them) and nobody else
 * holds them, so the Lua string can own them. Same stack effect as lua_pushstring. A Lua
 * string is immutable (and its hash is kept in it), so a short one is made once and pushed
 * again as Lua itself shares strings.
 */
export function pushJsString(L: unknown, s: string): void {
  if (s.length > TSTRING_CHARS) {
    pushsvalue2s(L, luaS_bless(L, luaString(s)));
    return;
  }
  let ts = TSTRINGS.get(s);
  if (ts === undefined) {
    if (TSTRINGS.size >= MAX_TSTRINGS) TSTRINGS.clear();
    ts = luaS_bless(L, luaString(s));
    TSTRINGS.set(s, ts);
  }
  pushsvalue2s(L, ts);
}
