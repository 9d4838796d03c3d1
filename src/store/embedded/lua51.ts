import { createRequire } from 'node:module';
import fengari from 'fengari';
import { formatG } from './number-format.ts';

const require = createRequire(import.meta.url);

let patched = false;

/**
 * Makes fengari (Lua 5.3) convert numbers like Redis' Lua 5.1, where every number is a double:
 *  - number to string (tostring, `..`, string.format('%s'), lua_tolstring) is C's %.14g for
 *    every number, so `10/2 .. ''` is "5" (5.3 says "5.0") and 1e15 is "1e+15" as in 5.1;
 *  - strings and literals that look like integers become floats, so arithmetic on them is
 *    double arithmetic (fengari's integers are 32-bit and would wrap) and stays exact to 2^53.
 * Both hooks replace functions on fengari's internal lobject module, which its VM, API and
 * lexer call through the module object; so this applies to every fengari state in the process.
 */
export function patchFengariTo51(): void {
  if (patched) return;
  patched = true;
  const lobject = require('fengari/src/lobject.js');
  const lstring = require('fengari/src/lstring.js');
  const { to_luastring } = fengari;
  lobject.luaO_tostring = (L: unknown, obj: { value: number; setsvalue(s: unknown): void }) => {
    obj.setsvalue(lstring.luaS_bless(L, to_luastring(formatG(Number(obj.value), 14))));
  };
  const str2num = lobject.luaO_str2num;
  lobject.luaO_str2num = (s: Uint8Array, o: { ttisinteger(): boolean; value: number; setfltvalue(n: number): void }) => {
    const size = str2num(s, o);
    if (size !== 0 && o.ttisinteger()) o.setfltvalue(o.value);
    return size;
  };
}

const { lua, lauxlib } = fengari;
const SPEC = /%[-+ #0]*\d*(?:\.\d*)?([a-zA-Z%])/g;
const INTEGER_CONVERSIONS = new Set(['d', 'i', 'o', 'u', 'x', 'X', 'c']);

interface Spec {
  conversion: string;
  start: number;
  end: number;
}

function specsOf(fmt: string, cache: Map<string, Spec[]>): Spec[] {
  let specs = cache.get(fmt);
  if (!specs) {
    specs = [];
    for (const m of fmt.matchAll(SPEC)) if (m[1] !== '%') specs.push({ conversion: m[1]!, start: m.index, end: m.index + m[0].length });
    if (cache.size < 1_000) cache.set(fmt, specs);
  }
  return specs;
}

/**
 * string.format with Lua 5.1's number handling in front of fengari's: a number formatted with
 * %s reads as tostring says (%.14g), and the integer conversions (%d, %x, ...) take any number
 * and truncate it, as 5.1's cast to an integer does, where 5.3 refuses fractions and fengari
 * anything beyond 32 bits (those are printed through %.0f, which shows the same digits).
 */
export function wrapStringFormat(L: unknown): void {
  const cache = new Map<string, Spec[]>();
  const { to_luastring, to_jsstring } = fengari;
  lua.lua_getglobal(L, to_luastring('string'));
  lua.lua_getfield(L, -1, to_luastring('format'));
  const original = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
  lua.lua_pushjsfunction(L, (L: unknown) => {
    const n = lua.lua_gettop(L);
    const fmt = to_jsstring(lauxlib.luaL_checklstring(L, 1), undefined, undefined, true) as string;
    const specs = specsOf(fmt, cache);
    let rewritten: string | null = null;
    for (let i = 0; i < specs.length && i + 2 <= n; i++) {
      const arg = i + 2;
      if (lua.lua_type(L, arg) !== lua.LUA_TNUMBER) continue;
      const { conversion, start, end } = specs[i]!;
      const v = lua.lua_tonumber(L, arg);
      if (conversion === 's') {
        lua.lua_pushstring(L, to_luastring(formatG(v, 14)));
        lua.lua_replace(L, arg);
      } else if (INTEGER_CONVERSIONS.has(conversion)) {
        const t = Number.isFinite(v) ? Math.trunc(v) : 0;
        lua.lua_pushnumber(L, t);
        lua.lua_replace(L, arg);
        if ((conversion === 'd' || conversion === 'i') && (t > 2147483647 || t < -2147483648)) {
          rewritten ??= fmt;
          const at = rewritten.length - (fmt.length - start);
          const spec = rewritten.slice(at, at + end - start);
          rewritten = `${rewritten.slice(0, at)}${spec.slice(0, -1).replace(/\.\d*$/, '')}.0f${rewritten.slice(at + end - start)}`;
        }
      }
    }
    if (rewritten !== null) {
      lua.lua_pushstring(L, to_luastring(rewritten));
      lua.lua_replace(L, 1);
    }
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, original);
    lua.lua_insert(L, 1);
    lua.lua_call(L, n, 1);
    return 1;
  });
  lua.lua_setfield(L, -2, to_luastring('format'));
  lua.lua_pop(L, 1);
}
