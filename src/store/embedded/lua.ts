import { createHash } from 'node:crypto';
import fengari from 'fengari';
import { ErrorReply, StatusReply, type Reply } from './keyspace.ts';
import { openCjson } from './cjson.ts';
import { speedUpFengariCalls } from './fengari-speed.ts';
import { patchFengariTo51, wrapStringFormat } from './lua51.ts';
import { formatG } from './number-format.ts';
import { jsString, luaString, pushJsString } from './lua-strings.ts';

const { lua, lauxlib, lualib } = fengari;

/** Runs one command for a script; an error reply comes back as ErrorReply, not thrown. */
export type ScriptCall = (args: string[]) => Reply;

const INT64_MIN = -9223372036854775808;

/**
 * What Redis 7.0 installs around user scripts (eval.c, script_lua.c): its error handler, which
 * adds where the error happened (fengari's JS functions are what = 'J' where Redis' C ones are 'C'),
 * the Lua 5.1 names the scripts use, tostring as 5.1's (through the patched `..`), and a read-only _G.
 */
const SETUP = `
local concat_tostring, tostring_ = function(v) return v .. '' end, tostring
tostring = function(v)
  if type(v) == 'number' then return concat_tostring(v) end
  return tostring_(v)
end
unpack = table.unpack
table.getn = function(t) return #t end
math.pow = function(a, b) return a ^ b end
loadstring = load
io, os, package, require, dofile, loadfile, utf8 = nil, nil, nil, nil, nil, nil, nil
local dbg = debug
debug = nil
function __redis__err__handler(err)
  local i = dbg.getinfo(2,'nSl')
  if i and (i.what == 'C' or i.what == 'J') then
    i = dbg.getinfo(3,'nSl')
  end
  if type(err) ~= 'table' then
    err = {err='ERR ' .. tostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
`;

/** Redis 7.0's read-only _G, with its messages; native metamethods, so errors point at the script. */
function protectGlobals(L: unknown): void {
  lua.lua_pushglobaltable(L);
  lua.lua_createtable(L, 0, 2);
  lua.lua_pushjsfunction(L, (L: unknown) => lauxlib.luaL_error(L, luaString('Attempt to modify a readonly table')));
  lua.lua_setfield(L, -2, luaString('__newindex'));
  lua.lua_pushjsfunction(L, (L: unknown) => {
    const name = jsString(lauxlib.luaL_tolstring(L, 2));
    return lauxlib.luaL_error(L, luaString(`Script attempted to access nonexistent global variable '${name}'`));
  });
  lua.lua_setfield(L, -2, luaString('__index'));
  lua.lua_setmetatable(L, -2);
  lua.lua_pop(L, 1);
}

/** Compiled scripts by their text, shared by every engine in the process. */
const BYTECODE = new Map<string, Uint8Array>();
const MAX_CACHED = 10_000;

interface Compiled {
  ref: number;
  sha: string;
}

/**
 * Redis' scripting in process: a fengari Lua state set up as Redis 7.0 sets up its Lua 5.1
 * (redis.*, cjson, KEYS/ARGV, unpack, number formatting, error replies), where redis.call runs
 * the embedded command table. Scripts are compiled once and kept by their text.
 */
export class LuaScripting {
  private readonly L: unknown;
  private readonly compiled = new Map<string, Compiled>();
  private readonly handlerRef: number;

  constructor(private readonly call: ScriptCall) {
    patchFengariTo51();
    speedUpFengariCalls();
    const L = lauxlib.luaL_newstate();
    this.L = L;
    lualib.luaL_openlibs(L);
    openCjson(L);
    wrapStringFormat(L);
    this.openRedis();
    if (lauxlib.luaL_dostring(L, luaString(SETUP)) !== lua.LUA_OK) throw new Error(jsString(lua.lua_tolstring(L, -1)));
    lua.lua_getglobal(L, luaString('__redis__err__handler'));
    this.handlerRef = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
    protectGlobals(L);
  }

  /** EVAL: the script's reply, an ErrorReply when it failed. */
  eval(body: string, keys: string[], argv: string[]): Reply {
    const L = this.L;
    let script = this.compiled.get(body);
    if (!script) {
      const compiled = this.compile(body);
      if (compiled instanceof ErrorReply) return compiled;
      script = compiled;
    }
    lua.lua_settop(L, 0);
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.handlerRef);
    lua.lua_pushglobaltable(L);
    this.setArray(keys, 'KEYS');
    this.setArray(argv, 'ARGV');
    lua.lua_pop(L, 1);
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, script.ref);
    const status = lua.lua_pcall(L, 0, 1, 1);
    try {
      return status === lua.LUA_OK ? this.toReply(2) : this.errorOf(2, script.sha);
    } finally {
      lua.lua_settop(L, 0);
    }
  }

  /**
   * FUNCTION LOAD REPLACE: runs a library's chunk once (`#!lua name=<lib>` first, as Redis 7
   * wants), which registers its functions with redis.register_function; returns the library's
   * name. What the chunk builds outside its functions (tables, local helpers) is built once,
   * not on every call as an EVAL script's main chunk is.
   */
  loadLibrary(code: string): string | ErrorReply {
    const m = /^#!lua name=([A-Za-z0-9_]+)[^\n]*\n/.exec(code);
    if (!m) return new ErrorReply('ERR Missing library metadata');
    const L = this.L;
    const body = code.slice(m[0].length);
    const chunk = luaString(body);
    lua.lua_settop(L, 0);
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.handlerRef);
    if (lauxlib.luaL_loadbuffer(L, chunk, chunk.length, luaString(`@${m[1]}`)) !== lua.LUA_OK) {
      const msg = jsString(lua.lua_tolstring(L, -1));
      lua.lua_settop(L, 0);
      return new ErrorReply(`ERR Error compiling function: ${msg}`);
    }
    this.registering = new Map();
    const status = lua.lua_pcall(L, 0, 0, 1);
    const registered = this.registering;
    this.registering = null;
    if (status !== lua.LUA_OK) {
      const err = this.errorOf(2, m[1]!);
      lua.lua_settop(L, 0);
      for (const ref of registered.values()) lauxlib.luaL_unref(L, lua.LUA_REGISTRYINDEX, ref);
      return err;
    }
    lua.lua_settop(L, 0);
    for (const [name, ref] of registered) {
      const old = this.functions.get(name);
      if (old !== undefined) lauxlib.luaL_unref(L, lua.LUA_REGISTRYINDEX, old);
      this.functions.set(name, ref);
    }
    return m[1]!;
  }

  /** FCALL: a registered function called with its KEYS and ARGV tables, as Redis 7 calls it. */
  fcall(name: string, keys: string[], argv: string[]): Reply {
    const ref = this.functions.get(name);
    if (ref === undefined) return new ErrorReply('ERR Function not found');
    const L = this.L;
    lua.lua_settop(L, 0);
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.handlerRef);
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, ref);
    this.pushArray(keys);
    this.pushArray(argv);
    const status = lua.lua_pcall(L, 2, 1, 1);
    try {
      return status === lua.LUA_OK ? this.toReply(2) : this.errorOf(2, name);
    } finally {
      lua.lua_settop(L, 0);
    }
  }

  /** Functions of loaded libraries, by name: registry references. */
  private readonly functions = new Map<string, number>();
  /** While a library loads: what it registered so far. */
  private registering: Map<string, number> | null = null;

  /** redis.register_function(name, fn) or ({function_name = name, callback = fn}), at load time only. */
  private registerFunction(L: unknown): number {
    if (!this.registering) return lauxlib.luaL_error(L, luaString('redis.register_function can only be called on FUNCTION LOAD command'));
    let name: string | null = null;
    if (lua.lua_type(L, 1) === lua.LUA_TTABLE) {
      lua.lua_getfield(L, 1, luaString('function_name'));
      if (lua.lua_type(L, -1) === lua.LUA_TSTRING) name = jsString(lua.lua_tolstring(L, -1));
      lua.lua_getfield(L, 1, luaString('callback'));
    } else {
      if (lua.lua_type(L, 1) === lua.LUA_TSTRING) name = jsString(lua.lua_tolstring(L, 1));
      lua.lua_pushvalue(L, 2);
    }
    if (!name || !/^[A-Za-z0-9_]+$/.test(name)) return lauxlib.luaL_error(L, luaString('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long'));
    if (lua.lua_type(L, -1) !== lua.LUA_TFUNCTION) return lauxlib.luaL_error(L, luaString('callback argument given to redis.register_function must be a function'));
    if (this.registering.has(name)) return lauxlib.luaL_error(L, luaString('Function already exists in the library'));
    this.registering.set(name, lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX));
    return 0;
  }

  private pushArray(values: string[]): void {
    const L = this.L;
    lua.lua_createtable(L, values.length, 0);
    for (let i = 0; i < values.length; i++) {
      pushJsString(L, values[i]!);
      lua.lua_rawseti(L, -2, i + 1);
    }
  }

  private compile(body: string): Compiled | ErrorReply {
    const L = this.L;
    const sha = createHash('sha1').update(body).digest('hex');
    // fengari's parser is slow (tens of ms for a script with its prelude); every engine in the
    // process loads the bytecode of the first one's compilation instead.
    const bytecode = BYTECODE.get(body);
    const code = bytecode ?? luaString(body);
    if (lauxlib.luaL_loadbuffer(L, code, code.length, luaString('@user_script')) !== lua.LUA_OK) {
      const msg = jsString(lua.lua_tolstring(L, -1));
      lua.lua_settop(L, 0);
      return new ErrorReply(`ERR Error compiling script (new function): ${msg}`);
    }
    if (!bytecode && BYTECODE.size < MAX_CACHED) {
      const chunks: Uint8Array[] = [];
      lua.lua_dump(L, (_L: unknown, b: Uint8Array, size: number) => (chunks.push(b.slice(0, size)), 0), null, false);
      BYTECODE.set(body, Buffer.concat(chunks));
    }
    const compiled = { ref: lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX), sha };
    this.compiled.set(body, compiled);
    return compiled;
  }

  /** Sets global `name` (rawset: _G is read-only to scripts) to an array of strings; _G is on top. */
  private setArray(values: string[], name: string): void {
    const L = this.L;
    lua.lua_pushstring(L, luaString(name));
    lua.lua_createtable(L, values.length, 0);
    for (let i = 0; i < values.length; i++) {
      pushJsString(L, values[i]!);
      lua.lua_rawseti(L, -2, i + 1);
    }
    lua.lua_rawset(L, -3);
  }

  /** The final error reply of a failed script, worded as Redis 7.0 words it. */
  private errorOf(idx: number, sha: string): ErrorReply {
    const L = this.L;
    if (lua.lua_type(L, idx) !== lua.LUA_TTABLE) {
      const msg = lua.lua_type(L, idx) === lua.LUA_TSTRING ? jsString(lua.lua_tolstring(L, idx)) : 'execution failure';
      return new ErrorReply(`ERR Error running script f_${sha}, ${msg.slice(0, 100)}`);
    }
    const field = (name: string): string | null => {
      lua.lua_getfield(L, idx, luaString(name));
      const t = lua.lua_type(L, -1);
      const v = t === lua.LUA_TSTRING || t === lua.LUA_TNUMBER ? jsString(lua.lua_tolstring(L, -1)) : null;
      lua.lua_pop(L, 1);
      return v;
    };
    const err = field('err');
    const source = field('source');
    const line = field('line');
    return new ErrorReply(`${err}${source && line ? ` script: ${sha}, on ${source}:${line}.` : ''}`);
  }

  /** luaReplyToRedisReply: what a Lua value returned by a script means as a Redis reply. */
  private toReply(idx: number): Reply {
    const L = this.L;
    switch (lua.lua_type(L, idx)) {
      case lua.LUA_TSTRING:
        return jsString(lua.lua_tolstring(L, idx));
      case lua.LUA_TBOOLEAN:
        return lua.lua_toboolean(L, idx) ? 1 : null;
      case lua.LUA_TNUMBER: {
        // C's (long long) cast on x86: out of range (and NaN) is INT64_MIN.
        const n = lua.lua_tonumber(L, idx);
        return n < 9223372036854775808 && n >= -9223372036854775808 ? Math.trunc(n) || 0 : INT64_MIN;
      }
      case lua.LUA_TTABLE:
        break;
      default:
        return null;
    }
    for (const [field, make] of [
      ['err', (s: string) => new ErrorReply(s)],
      ['ok', (s: string) => new StatusReply(s)],
    ] as const) {
      lua.lua_getfield(L, idx, luaString(field));
      if (lua.lua_type(L, -1) === lua.LUA_TSTRING) {
        const s = jsString(lua.lua_tolstring(L, -1));
        lua.lua_pop(L, 1);
        return make(s);
      }
      lua.lua_pop(L, 1);
    }
    lauxlib.luaL_checkstack(L, 2, null);
    const out: Reply[] = [];
    for (let i = 1; ; i++) {
      lua.lua_rawgeti(L, idx, i);
      if (lua.lua_type(L, -1) === lua.LUA_TNIL) {
        lua.lua_pop(L, 1);
        return out;
      }
      out.push(this.toReply(lua.lua_gettop(L)));
      lua.lua_pop(L, 1);
    }
  }

  /** redisProtocolToLuaType: a command's reply as the script sees it. */
  private push(L: unknown, r: Reply): void {
    if (typeof r === 'string') pushJsString(L, r);
    else if (typeof r === 'number' || typeof r === 'bigint') lua.lua_pushnumber(L, Number(r));
    else if (r === null) lua.lua_pushboolean(L, false);
    else if (Array.isArray(r)) {
      lauxlib.luaL_checkstack(L, 2, null);
      lua.lua_createtable(L, r.length, 0);
      for (let i = 0; i < r.length; i++) {
        this.push(L, r[i]!);
        lua.lua_rawseti(L, -2, i + 1);
      }
    } else {
      lua.lua_createtable(L, 0, 1);
      lua.lua_pushstring(L, luaString(r instanceof StatusReply ? r.status : r.message));
      lua.lua_setfield(L, -2, luaString(r instanceof StatusReply ? 'ok' : 'err'));
    }
  }

  /** luaPushErrorBuff: {err = "CODE message"}, a leading '-' taken off, ERR added when there is no code. */
  private pushError(L: unknown, message: string): void {
    let text = message;
    if (text.startsWith('-')) {
      const sp = text.indexOf(' ');
      text = sp < 0 ? `ERR ${text.slice(1)}` : `${text.slice(1, sp)} ${text.slice(sp + 1)}`;
    } else text = `ERR ${text}`;
    this.push(L, new ErrorReply(text.replace(/[\r\n]+$/, '')));
  }

  private command(L: unknown, raise: boolean): number {
    if (this.registering) return lauxlib.luaL_error(L, luaString('attempt to call field \'call\' (a nil value)'));
    const argc = lua.lua_gettop(L);
    const args: string[] = new Array(argc);
    let bad: string | null = argc === 0 ? 'Please specify at least one argument for this redis lib call' : null;
    for (let i = 1; i <= argc && !bad; i++) {
      const t = lua.lua_type(L, i);
      // Redis 7.0 formats numeric arguments with %.17g (Lua's own %.14g would lose digits).
      if (t === lua.LUA_TNUMBER) args[i - 1] = formatG(lua.lua_tonumber(L, i), 17);
      else if (t === lua.LUA_TSTRING) args[i - 1] = jsString(lua.lua_tolstring(L, i));
      else bad = 'Lua redis lib command arguments must be strings or integers';
    }
    let reply: Reply;
    if (bad) {
      this.pushError(L, bad);
      reply = null;
    } else {
      reply = this.call(args);
      if (reply instanceof ErrorReply) {
        this.pushError(L, `-${reply.message}`);
        // Redis marks errors a command already counted in its error stats.
        lua.lua_pushboolean(L, true);
        lua.lua_setfield(L, -2, luaString('ignore_error_stats_update'));
      } else this.push(L, reply);
    }
    if (raise && (bad || reply instanceof ErrorReply)) return lua.lua_error(L);
    return 1;
  }

  private openRedis(): void {
    const L = this.L;
    const fns: Record<string, (L: unknown) => number> = {
      call: (L) => this.command(L, true),
      pcall: (L) => this.command(L, false),
      error_reply: (L) => {
        if (lua.lua_gettop(L) !== 1 || lua.lua_type(L, 1) !== lua.LUA_TSTRING) {
          this.pushError(L, 'wrong number or type of arguments');
          return 1;
        }
        const msg = jsString(lua.lua_tolstring(L, 1));
        this.pushError(L, msg.startsWith('-') ? msg : `-${msg}`);
        return 1;
      },
      status_reply: (L) => {
        if (lua.lua_gettop(L) !== 1 || lua.lua_type(L, 1) !== lua.LUA_TSTRING) {
          this.pushError(L, 'wrong number or type of arguments');
          return 1;
        }
        this.push(L, new StatusReply(jsString(lua.lua_tolstring(L, 1))));
        return 1;
      },
      sha1hex: (L) => {
        const s = lauxlib.luaL_checklstring(L, 1);
        lua.lua_pushstring(L, luaString(createHash('sha1').update(s).digest('hex')));
        return 1;
      },
      log: () => 0,
      replicate_commands: (L) => {
        lua.lua_pushboolean(L, true);
        return 1;
      },
      set_repl: () => 0,
      setresp: () => 0,
      register_function: (L) => this.registerFunction(L),
    };
    lua.lua_createtable(L, 0, 16);
    for (const [name, fn] of Object.entries(fns)) {
      lua.lua_pushjsfunction(L, fn);
      lua.lua_setfield(L, -2, luaString(name));
    }
    const constants: Record<string, number> = {
      LOG_DEBUG: 0, LOG_VERBOSE: 1, LOG_NOTICE: 2, LOG_WARNING: 3,
      REPL_NONE: 0, REPL_AOF: 1, REPL_SLAVE: 2, REPL_REPLICA: 2, REPL_ALL: 3,
    };
    for (const [name, v] of Object.entries(constants)) {
      lua.lua_pushnumber(L, v);
      lua.lua_setfield(L, -2, luaString(name));
    }
    lua.lua_setglobal(L, luaString('redis'));
  }
}
