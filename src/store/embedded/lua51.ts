import { createRequire } from 'node:module';
import fengari from 'fengari';
import { formatFixed, formatG } from './number-format.ts';
import { jsString, pushJsString } from './lua-strings.ts';

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
const SPEC = /%([-+ #0]*)(\d*)(?:\.(\d*))?([a-zA-Z%])/g;
const INTEGER_CONVERSIONS = new Set(['d', 'i', 'o', 'u', 'x', 'X', 'c']);

interface Spec {
  flags: string;
  width: number;
  precision: number | undefined;
  conversion: string;
  start: number;
  end: number;
}

function specsOf(fmt: string, cache: Map<string, Spec[]>): Spec[] {
  let specs = cache.get(fmt);
  if (!specs) {
    specs = [];
    for (const m of fmt.matchAll(SPEC)) {
      if (m[4] === '%') continue;
      specs.push({ flags: m[1]!, width: Number(m[2] || 0), precision: m[3] === undefined ? undefined : Number(m[3] || 0), conversion: m[4]!, start: m.index, end: m.index + m[0].length });
    }
    if (cache.size < 1_000) cache.set(fmt, specs);
  }
  return specs;
}

/** C's %g and %f with their flags and width (not '#'): sprintf-js rounds ties up and switches notation elsewhere. */
function cFloat(v: number, spec: Spec): string {
  const p = spec.precision ?? 6;
  let s = spec.conversion === 'f' || spec.conversion === 'F' ? formatFixed(v, p) : formatG(v, Math.max(1, p));
  if (spec.conversion === 'G' || spec.conversion === 'F') s = s.toUpperCase();
  if (!s.startsWith('-')) {
    if (spec.flags.includes('+')) s = `+${s}`;
    else if (spec.flags.includes(' ')) s = ` ${s}`;
  }
  if (s.length >= spec.width) return s;
  if (spec.flags.includes('-')) return s.padEnd(spec.width);
  if (spec.flags.includes('0') && Number.isFinite(v)) {
    const sign = /^[-+ ]/.test(s) ? s[0]! : '';
    return sign + s.slice(sign.length).padStart(spec.width - sign.length, '0');
  }
  return s.padStart(spec.width);
}

function pad(s: string, spec: Spec, numeric: boolean): string {
  if (s.length >= spec.width) return s;
  if (spec.flags.includes('-')) return s.padEnd(spec.width);
  if (numeric && spec.flags.includes('0') && spec.precision === undefined) {
    const sign = /^[-+ ]/.test(s) ? s[0]! : '';
    return sign + s.slice(sign.length).padStart(spec.width - sign.length, '0');
  }
  return s.padStart(spec.width);
}

/**
 * The common formats (%s of strings and numbers, %d and %i, %f and %g) written here, without
 * a round trip through fengari's string.format (scripts format every score with '%.0f');
 * null sends anything else to the general path.
 */
function formatHere(L: unknown, fmt: string, specs: Spec[], n: number): string | null {
  if (specs.length !== n - 1 || fmt.includes('%%')) return null;
  let out = '';
  let copied = 0;
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i]!;
    const t = lua.lua_type(L, i + 2);
    let text: string;
    if (spec.conversion === 's' && (t === lua.LUA_TSTRING || t === lua.LUA_TNUMBER) && !spec.flags.replace('-', '')) {
      text = t === lua.LUA_TNUMBER ? formatG(lua.lua_tonumber(L, i + 2), 14) : jsText(lua.lua_tolstring(L, i + 2));
      if (spec.precision !== undefined) text = text.slice(0, spec.precision);
      text = pad(text, spec, false);
    } else if (t !== lua.LUA_TNUMBER || spec.flags.includes('#')) return null;
    else {
      const v = lua.lua_tonumber(L, i + 2);
      if (spec.conversion === 'd' || spec.conversion === 'i') {
        if (spec.precision !== undefined || !Number.isFinite(v)) return null;
        const t64 = Math.trunc(v);
        text = Object.is(t64, -0) ? '0' : formatFixed(t64, 0);
        if (!text.startsWith('-') && spec.flags.includes('+')) text = `+${text}`;
        else if (!text.startsWith('-') && spec.flags.includes(' ')) text = ` ${text}`;
        text = pad(text, spec, true);
      } else if ('fFgG'.includes(spec.conversion)) text = cFloat(v, spec);
      else return null;
    }
    out += fmt.slice(copied, spec.start) + text;
    copied = spec.end;
  }
  return out + fmt.slice(copied);
}

function jsText(bytes: Uint8Array): string {
  return fengari.to_jsstring(bytes, undefined, undefined, true) as string;
}

/**
 * string.format with Lua 5.1's number handling in front of fengari's: a number formatted with
 * %s reads as tostring says (%.14g); %g and %f are C's (exact value, ties to even); the integer
 * conversions (%d, %x, ...) take any number and truncate it, as 5.1's cast does, where 5.3
 * refuses fractions and fengari anything beyond 32 bits (%d and %i of those print through
 * %.0f, which shows the same digits). Remaining difference: %e rounds exact ties up.
 */
export function wrapStringFormat(L: unknown): void {
  const cache = new Map<string, Spec[]>();
  const { to_luastring } = fengari;
  lua.lua_getglobal(L, to_luastring('string'));
  lua.lua_getfield(L, -1, to_luastring('format'));
  const original = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
  lua.lua_pushjsfunction(L, (L: unknown) => {
    const n = lua.lua_gettop(L);
    const fmt = jsString(lauxlib.luaL_checklstring(L, 1));
    // The scripts' int(n), on every score and time they write.
    if (n === 2 && fmt === '%.0f' && lua.lua_type(L, 2) === lua.LUA_TNUMBER) {
      pushJsString(L, formatFixed(lua.lua_tonumber(L, 2), 0));
      return 1;
    }
    const specs = specsOf(fmt, cache);
    const direct = formatHere(L, fmt, specs, n);
    if (direct !== null) {
      pushJsString(L, direct);
      return 1;
    }
    const pieces: string[] = [];
    let copied = 0;
    const rewrite = (spec: Spec, text: string) => {
      pieces.push(fmt.slice(copied, spec.start), text);
      copied = spec.end;
    };
    for (let i = 0; i < specs.length && i + 2 <= n; i++) {
      const arg = i + 2;
      if (lua.lua_type(L, arg) !== lua.LUA_TNUMBER) continue;
      const spec = specs[i]!;
      const v = lua.lua_tonumber(L, arg);
      if (spec.conversion === 's') {
        lua.lua_pushstring(L, to_luastring(formatG(v, 14)));
        lua.lua_replace(L, arg);
      } else if ('gGfF'.includes(spec.conversion) && !spec.flags.includes('#')) {
        lua.lua_pushstring(L, to_luastring(cFloat(v, spec)));
        lua.lua_replace(L, arg);
        rewrite(spec, '%s');
      } else if (INTEGER_CONVERSIONS.has(spec.conversion)) {
        const t = Number.isFinite(v) ? Math.trunc(v) : 0;
        lua.lua_pushnumber(L, t);
        lua.lua_replace(L, arg);
        if ((spec.conversion === 'd' || spec.conversion === 'i') && (t > 2147483647 || t < -2147483648)) {
          rewrite(spec, `%${spec.flags}${spec.width || ''}.0f`);
        }
      }
    }
    if (pieces.length) {
      pieces.push(fmt.slice(copied));
      lua.lua_pushstring(L, to_luastring(pieces.join('')));
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

