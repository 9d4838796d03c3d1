import fengari from 'fengari';
import { formatG } from './number-format.ts';
import { jsString, luaString, pushJsString } from './lua-strings.ts';

const { lua, lauxlib } = fengari;

/** cjson.null: a light userdata every script compares against. */
export const JSON_NULL = Object.freeze({ cjson: 'null' });

const MAX_DEPTH = 1000;
const SPARSE_RATIO = 2;
const SPARSE_SAFE = 10;
const ESCAPE = /[\u0000-\u001f"\\/\u007f]/;
const ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '/': '\\/', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' };

function fail(L: unknown, message: string): never {
  lauxlib.luaL_error(L, luaString(message));
  throw new Error('unreachable');
}

function quote(s: string): string {
  if (!ESCAPE.test(s)) return `"${s}"`;
  return `"${s.replace(/[\u0000-\u001f"\\/\u007f]/g, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

function number(L: unknown, n: number): string {
  if (!Number.isFinite(n)) fail(L, 'Cannot serialise number: must not be NaN or Inf');
  return formatG(n, 14);
}

/** lua_cjson's array test: positive integer keys only, not too sparse; returns the length or -1. */
function arrayLength(L: unknown, idx: number): number {
  let max = 0;
  let items = 0;
  lua.lua_pushnil(L);
  while (lua.lua_next(L, idx) !== 0) {
    const k = lua.lua_type(L, -2) === lua.LUA_TNUMBER ? lua.lua_tonumber(L, -2) : NaN;
    lua.lua_pop(L, 1);
    if (!(Number.isInteger(k) && k >= 1)) {
      lua.lua_pop(L, 1);
      return -1;
    }
    if (k > max) max = k;
    items++;
  }
  if (max > items * SPARSE_RATIO && max > SPARSE_SAFE) fail(L, 'Cannot serialise table: excessively sparse array');
  return max;
}

/** The value at `idx` (absolute) as cjson (Redis' lua_cjson 2.1) writes it. */
function encode(L: unknown, idx: number, depth: number): string {
  switch (lua.lua_type(L, idx)) {
    case lua.LUA_TSTRING:
      return quote(jsString(lua.lua_tolstring(L, idx)));
    case lua.LUA_TNUMBER:
      return number(L, lua.lua_tonumber(L, idx));
    case lua.LUA_TBOOLEAN:
      return lua.lua_toboolean(L, idx) ? 'true' : 'false';
    case lua.LUA_TNIL:
      return 'null';
    case lua.LUA_TLIGHTUSERDATA:
      if (lua.lua_touserdata(L, idx) === JSON_NULL) return 'null';
      return fail(L, 'Cannot serialise userdata: type not supported');
    case lua.LUA_TTABLE:
      break;
    default:
      return fail(L, `Cannot serialise ${jsString(lua.lua_typename(L, lua.lua_type(L, idx)))}: type not supported`);
  }
  if (depth > MAX_DEPTH) fail(L, `Cannot serialise, excessive nesting (${depth})`);
  lauxlib.luaL_checkstack(L, 3, null);
  const len = arrayLength(L, idx);
  const parts: string[] = [];
  if (len > 0) {
    for (let i = 1; i <= len; i++) {
      lua.lua_rawgeti(L, idx, i);
      parts.push(encode(L, lua.lua_gettop(L), depth + 1));
      lua.lua_pop(L, 1);
    }
    return `[${parts.join(',')}]`;
  }
  lua.lua_pushnil(L);
  while (lua.lua_next(L, idx) !== 0) {
    const kt = lua.lua_type(L, -2);
    let key: string;
    if (kt === lua.LUA_TSTRING) key = quote(jsString(lua.lua_tolstring(L, -2)));
    else if (kt === lua.LUA_TNUMBER) key = `"${number(L, lua.lua_tonumber(L, -2))}"`;
    else fail(L, 'Cannot serialise table: table key must be a number or string');
    parts.push(`${key}:${encode(L, lua.lua_gettop(L), depth + 1)}`);
    lua.lua_pop(L, 1);
  }
  return `{${parts.join(',')}}`;
}

/** A JSON text parsed straight onto the Lua stack (cjson's tables, cjson.null for null). */
class Decoder {
  private i = 0;

  constructor(
    private readonly L: unknown,
    private readonly s: string,
  ) {}

  run(): void {
    this.value(1);
    this.space();
    if (this.i < this.s.length) this.error('the end', 'trailing garbage');
  }

  private error(expected: string, found = 'invalid token'): never {
    return fail(this.L, `Expected ${expected} but found ${found} at character ${this.i + 1}`);
  }

  private space(): void {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s[this.i]!)) this.i++;
  }

  private value(depth: number): void {
    const L = this.L;
    this.space();
    const c = this.s[this.i];
    if (c === '{' || c === '[') {
      if (depth > MAX_DEPTH) fail(L, `Found too many nested data structures (${depth}) at character ${this.i + 1}`);
      lauxlib.luaL_checkstack(L, 3, null);
      this.i++;
      lua.lua_createtable(L, 0, 0);
      c === '{' ? this.object(depth) : this.array(depth);
      return;
    }
    if (c === '"') {
      lua.lua_pushstring(L, luaString(this.string()));
      return;
    }
    const word = /^(true|false|null)/.exec(this.s.slice(this.i, this.i + 5));
    if (word) {
      this.i += word[1]!.length;
      if (word[1] === 'null') lua.lua_pushlightuserdata(L, JSON_NULL);
      else lua.lua_pushboolean(L, word[1] === 'true');
      return;
    }
    const num = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!num) this.error('value', this.i >= this.s.length ? 'T_END' : 'invalid token');
    this.i += num[0].length;
    lua.lua_pushnumber(L, Number(num[0]));
  }

  private array(depth: number): void {
    this.space();
    if (this.s[this.i] === ']') {
      this.i++;
      return;
    }
    for (let n = 1; ; n++) {
      this.value(depth + 1);
      lua.lua_rawseti(this.L, -2, n);
      this.space();
      const c = this.s[this.i++];
      if (c === ']') return;
      if (c !== ',') this.error('comma or array end');
    }
  }

  private object(depth: number): void {
    this.space();
    if (this.s[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.space();
      if (this.s[this.i] !== '"') this.error('object key string');
      lua.lua_pushstring(this.L, luaString(this.string()));
      this.space();
      if (this.s[this.i++] !== ':') this.error('colon');
      this.value(depth + 1);
      lua.lua_rawset(this.L, -3);
      this.space();
      const c = this.s[this.i++];
      if (c === '}') return;
      if (c !== ',') this.error('comma or object end');
    }
  }

  private string(): string {
    const s = this.s;
    let out = '';
    let start = ++this.i;
    for (;;) {
      if (this.i >= s.length) this.error('string end', 'T_END');
      const c = s.charCodeAt(this.i);
      if (c === 34) break;
      if (c === 92) {
        out += s.slice(start, this.i);
        const e = s[this.i + 1];
        if (e === 'u') {
          const hex = s.slice(this.i + 2, this.i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.error('string', 'invalid escape code');
          out += String.fromCharCode(parseInt(hex, 16));
          this.i += 6;
        } else {
          const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
          if (e === undefined || !(e in simple)) this.error('string', 'invalid escape code');
          out += simple[e];
          this.i += 2;
        }
        start = this.i;
      } else this.i++;
    }
    out += s.slice(start, this.i);
    this.i++;
    return out;
  }
}

/**
 * The fast path of cjson.decode: JSON.parse (native) and the value pushed as cjson would
 * build it. Valid JSON parses the same in both; for anything JSON.parse refuses, or nesting
 * past cjson's limit, it answers false and the Decoder above gives cjson's own answer/error.
 */
function pushParsed(L: unknown, text: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false;
  }
  if (!withinDepth(value, 1)) return false;
  const top = lua.lua_gettop(L);
  pushValue(L, value);
  return lua.lua_gettop(L) === top + 1;
}

function withinDepth(v: unknown, depth: number): boolean {
  if (v === null || typeof v !== 'object') return true;
  if (depth > MAX_DEPTH) return false;
  for (const x of Array.isArray(v) ? v : Object.values(v)) if (!withinDepth(x, depth + 1)) return false;
  return true;
}

function pushValue(L: unknown, v: unknown): void {
  switch (typeof v) {
    case 'string':
      pushJsString(L, v);
      return;
    case 'number':
      lua.lua_pushnumber(L, v);
      return;
    case 'boolean':
      lua.lua_pushboolean(L, v);
      return;
  }
  if (v === null) {
    lua.lua_pushlightuserdata(L, JSON_NULL);
    return;
  }
  lauxlib.luaL_checkstack(L, 3, null);
  if (Array.isArray(v)) {
    lua.lua_createtable(L, v.length, 0);
    for (let i = 0; i < v.length; i++) {
      pushValue(L, v[i]);
      lua.lua_rawseti(L, -2, i + 1);
    }
    return;
  }
  const keys = Object.keys(v as object);
  lua.lua_createtable(L, 0, keys.length);
  for (const k of keys) {
    pushJsString(L, k);
    pushValue(L, (v as Record<string, unknown>)[k]);
    lua.lua_rawset(L, -3);
  }
}

/** Installs the global `cjson` table: encode, decode and null, as Redis scripts see them. */
export function openCjson(L: unknown): void {
  lua.lua_createtable(L, 0, 3);
  lua.lua_pushjsfunction(L, (L: unknown) => {
    lauxlib.luaL_argcheck(L, lua.lua_gettop(L) === 1, 1, luaString('expected 1 argument'));
    lua.lua_pushstring(L, luaString(encode(L, 1, 1)));
    return 1;
  });
  lua.lua_setfield(L, -2, luaString('encode'));
  lua.lua_pushjsfunction(L, (L: unknown) => {
    lauxlib.luaL_argcheck(L, lua.lua_gettop(L) === 1, 1, luaString('expected 1 argument'));
    const text = jsString(lauxlib.luaL_checklstring(L, 1));
    if (!pushParsed(L, text)) new Decoder(L, text).run();
    return 1;
  });
  lua.lua_setfield(L, -2, luaString('decode'));
  lua.lua_pushlightuserdata(L, JSON_NULL);
  lua.lua_setfield(L, -2, luaString('null'));
  lua.lua_setglobal(L, luaString('cjson'));
}
