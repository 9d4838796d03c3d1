/**
 * The embedded Redis engine on its own: its injectable clock, Lua 5.1 number formatting on a
 * Lua 5.3 VM, and a guard that the store's scripts use only what the engine implements.
 * (test/embedded-differential.test.ts compares it with a real redis-server.)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EmbeddedClient } from '../src/store/embedded/client.ts';
import { COMMANDS } from '../src/store/embedded/commands/index.ts';
import { RedisEngine } from '../src/store/embedded/engine.ts';
import { formatFixed, formatG } from '../src/store/embedded/number-format.ts';

const LUA_DIR = 'src/store/redis/lua/';

function withClock(start = 1_000_000) {
  const clock = { now: start };
  const client = new EmbeddedClient(new RedisEngine({ now: () => clock.now }));
  return { clock, client };
}

describe('embedded engine clock', () => {
  it('expires keys by the injected clock: gone once the clock is past the deadline', async () => {
    const { clock, client } = withClock();
    await client.call('set', 's', 'v', 'PX', 100);
    await client.call('hset', 'h', 'f', 'v');
    await client.call('pexpire', 'h', 50);
    clock.now += 50;
    expect(await client.call('pttl', 's')).toBe(50);
    expect(await client.call('hget', 'h', 'f')).toBe('v');
    clock.now += 1;
    expect(await client.call('exists', 'h')).toBe(0);
    clock.now += 49;
    expect(await client.call('get', 's')).toBe('v');
    clock.now += 1;
    expect(await client.call('get', 's')).toBeNull();
    expect(await client.call('pttl', 's')).toBe(-2);
  });

  it('reads the clock for XADD * and TIME', async () => {
    const { clock, client } = withClock(1_700_000_000_123);
    expect(await client.call('xadd', 'x', '*', 'f', 'v')).toBe('1700000000123-0');
    expect(await client.call('xadd', 'x', '*', 'f', 'v')).toBe('1700000000123-1');
    clock.now += 5;
    expect(await client.call('xadd', 'x', '*', 'f', 'v')).toBe('1700000000128-0');
    expect(await client.call('time')).toEqual(['1700000000', '128000']);
  });
});

describe('embedded engine commands', () => {
  it('knows only its own commands, not names an object inherits', async () => {
    const { client } = withClock();
    await expect(client.eval(`return redis.call('toString')`, 0)).rejects.toThrow(/^ERR Unknown Redis command called from script script: /);
    await expect(client.call('constructor')).rejects.toThrow(/^ERR unknown command 'constructor'/);
  });
});

describe('Lua 5.1 numbers on fengari', () => {
  it('prints C formats exactly (%.14g, %.17g, %.Nf with ties to even)', () => {
    expect([10 / 3, 1e15, 0.1, 1e-5, 2 ** 53, 123456789012345, 1234567890123.25, -2.5e-7].map((x) => formatG(x, 14))).toEqual([
      '3.3333333333333', '1e+15', '0.1', '1e-05', '9.007199254741e+15', '1.2345678901234e+14', '1234567890123.2', '-2.5e-07',
    ]);
    expect([0.1, 1e15, 10 / 3, -2.5e-7, Infinity, NaN].map((x) => formatG(x, 17))).toEqual([
      '0.10000000000000001', '1000000000000000', '3.3333333333333335', '-2.4999999999999999e-07', 'inf', '-nan',
    ]);
    expect([[333333333333333.3125, 3], [2.5, 0], [0.125, 2], [9.995, 2], [-0.4, 0]].map(([x, p]) => formatFixed(x!, p!))).toEqual([
      '333333333333333.312', '2', '0.12', '9.99', '-0',
    ]);
  });

  it('converts numbers to strings as Lua 5.1 does, wherever scripts see them', async () => {
    const { client } = withClock();
    const script = `local q = 10 / 2
redis.call('SET', 'k', q)
return {q .. '', tostring(q), string.format('%s|%d|%d|%.0f', q, 2.7, 1764625296000.9, 1764625296000), redis.call('GET', 'k'),
  cjson.encode({q, {}, 1e15}), tostring(1e15), tostring(123456789012345), q, 7 / 2}`;
    expect(await client.eval(script, 0)).toEqual(['5', '5', '5|2|1764625296000|1764625296000', '5', '[5,{},1e+15]', '1e+15', '1.2345678901234e+14', 5, 3]);
  });
});

/** The source with comments and string literals blanked out, so only code is searched. */
function codeOf(lua: string): string {
  return lua
    .replace(/--\[\[[\s\S]*?\]\]/g, '')
    .replace(/--[^\n]*/g, '')
    .replace(/'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"/g, "''");
}

describe('closures on fengari with its calls sped up (stack slots reused)', () => {
  it('keep Lua upvalue semantics: each loop pass its own local, shared locals, after returns, errors and breaks', async () => {
    const { client } = withClock();
    const script = `
      local out = {}
      local fs = {}
      for i = 1, 3 do local j = i * 10; fs[i] = function() j = j + 1; return j end end
      out[#out + 1] = fs[1]() .. ',' .. fs[2]() .. ',' .. fs[1]() .. ',' .. fs[3]()
      local function counter() local n = 0; return function() n = n + 1; return n end, function() return n end end
      local inc, get = counter()
      inc(); inc()
      local inc2 = counter()
      inc2()
      out[#out + 1] = get() .. ',' .. inc2()
      local keep
      pcall(function() local x = 'kept'; keep = function() return x end; error('boom') end)
      local a, b, c = 'overwrite', 'the', 'slots'
      out[#out + 1] = keep() .. a
      local gs, k = {}, 0
      while true do k = k + 1; local v = k; gs[k] = function() return v end; if k == 3 then break end end
      local p, q, r = 7, 8, 9
      out[#out + 1] = gs[1]() .. gs[2]() .. gs[3]() .. p
      return table.concat(out, ';')`;
    expect(await client.eval(script, 0)).toBe('11,21,12,31;2,2;keptoverwrite;1237');
  });
});

describe('the store scripts and the engine', () => {
  const scripts = readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua'));

  it('call only commands of the embedded table', () => {
    const used = new Set<string>();
    for (const f of scripts) for (const m of readFileSync(LUA_DIR + f, 'utf8').matchAll(/redis\.p?call\('([A-Za-z]+)'/g)) used.add(m[1]!.toUpperCase());
    used.add('PUBLISH').add('SPUBLISH'); // the PUBLISH local of the prelude (scripts.ts)
    expect(used.size).toBeGreaterThan(20);
    expect([...used].filter((c) => !COMMANDS[c])).toEqual([]);
  });

  it('use no Lua 5.3 syntax or library the engine would run but Redis (Lua 5.1) would not', () => {
    // 5.3 operators and libraries, and string.format conversions whose number handling the
    // engine does not bring back to 5.1's (lua51.ts does %s, %d, %i, %g, %f and the integer ones).
    const forbidden = /\/\/|<<|>>|[&|]|~(?!=)|\bgoto\b|\bmath\.(type|tointeger|ult)\b|\butf8\.|\bstring\.(pack|unpack)\b|\btable\.(move|pack)\b/;
    const formats = /string\.format\(\s*'[^']*%[-+ #0]*\d*(\.\d*)?[eEaAq]/;
    for (const f of scripts) {
      const src = readFileSync(LUA_DIR + f, 'utf8');
      expect(codeOf(src), f).not.toMatch(forbidden);
      expect(src, f).not.toMatch(formats);
    }
  });
});

describe('function libraries (FUNCTION LOAD, FCALL)', () => {
  const LIB = [
    '#!lua name=t',
    "local built = 0",
    "redis.register_function('setget', function(keys, args) redis.call('SET', keys[1], args[1]); built = built + 1; return { redis.call('GET', keys[1]), built } end)",
    "redis.register_function{function_name = 'fails', callback = function(keys, args) return redis.error_reply('NOPE ' .. args[1]) end}",
  ].join('\n');

  it('runs the library once; its functions keep its upvalues and get KEYS and ARGV as arguments', async () => {
    const c = new EmbeddedClient(new RedisEngine());
    expect(await c.function('LOAD', 'REPLACE', LIB)).toBe('t');
    expect(await c.fcall('setget', 1, 'k', 'v1')).toEqual(['v1', 1]);
    expect(await c.fcall('setget', 1, 'k', 'v2')).toEqual(['v2', 2]);
    await expect(c.fcall('fails', 0, 'x')).rejects.toThrow('NOPE x');
    await expect(c.fcall('nosuch', 0)).rejects.toThrow('Function not found');
    // No command runs while the library loads, as on Redis.
    await expect(c.function('LOAD', 'REPLACE', "#!lua name=bad\nredis.call('SET', 'a', 'b')")).rejects.toThrow();
    await expect(c.function('LOAD', 'REPLACE', 'return 1')).rejects.toThrow('Missing library metadata');
  });

  it('the store scripts as a library load on a real Redis 7 too, and answer as their EVAL form does', async () => {
    const { startRedis } = await import('./support/redis-server.ts');
    const { Redis } = await import('ioredis');
    const { loadLibrary, loadScripts } = await import('../src/store/redis/scripts.ts');
    const server = await startRedis();
    const redis = new Redis(server.url);
    try {
      expect(await redis.call('FUNCTION', 'LOAD', 'REPLACE', loadLibrary())).toBe('peakdesk');
      const args = (sid: string) => JSON.stringify({ buyerId: 'b1', newSessionId: sid, now: 1, idleTtlMs: 60_000, name: '', vip: 0 });
      const viaEval = JSON.parse(String(await redis.eval(loadScripts().openSession, 1, 'e:{s}:', args('s-e'))));
      const viaFcall = JSON.parse(String(await redis.fcall('openSession', 1, 'f:{s}:', args('s-f'))));
      expect(viaEval).toEqual({ sessionId: 's-e', lastSeq: 0, created: true });
      expect(viaFcall).toEqual({ sessionId: 's-f', lastSeq: 0, created: true });
    } finally {
      await redis.quit();
      await server.stop();
    }
  });
});
