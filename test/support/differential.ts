/**
 * Seeded random Redis command sequences, run through EVAL against a real redis-server and
 * against the embedded engine, comparing every reply. The generator aims at the corners where
 * an imitation differs: wrong types, bad numbers, argument counts, nil/false, integer vs
 * string vs status replies, errors raised and caught, number formatting, cjson, expiry.
 */
import type { Redis } from 'ioredis';

/** Options of the ioredis client of the Redis side. */
export const REDIS_OPTIONS = { stringNumbers: true } as const;
import { rng } from '../../loadtest/profile.ts';
import type { EmbeddedClient } from '../../src/store/embedded/client.ts';

type Gen = (r: Gen.Ctx) => string[];
namespace Gen {
  export interface Ctx {
    pick<T>(xs: readonly T[]): T;
    key(): string;
    chance(p: number): boolean;
    int(lo: number, hi: number): number;
  }
}

const MEMBERS = ['m1', 'm2', 'm3', 'x', 'y', 'é', '10', '2'];
const INTS = ['0', '1', '-1', '2', '3', '10', '-7', '100', '007', '1.5', 'abc', '', '9223372036854775807', '-9223372036854775808', '9223372036854775808', ' 1'];
const FLOATS = ['0', '1', '-1', '2.5', '-0.25', '1e3', '0.1', '1e-7', 'inf', '-inf', '+inf', '3', 'nan', 'abc', '', '1e400', '7.', '.5'];
const BOUNDS = ['-inf', '+inf', '0', '1', '(1', '2.5', '(2.5', '-1', '(-inf', 'x', '((1', '10', '3'];
const TTLS = ['10000', '60000', '120000', '0', '-5', 'x', '2.5'];
const STREAM_IDS = ['1-0', '1-1', '2-0', '5', '5-*', '7-3', '0-0', '0-1', '3-x', '18446744073709551615-0', '9-1'];
const RANGE_IDS = ['-', '+', '1', '2-0', '(1-0', '(5', '0', '7-3', '(0-0', 'z'];
const FIELDS = ['f1', 'f2', 'f3', 'f4', 'f5', 'n'];
const GROUPS = ['g1', 'g2'];
const CONSUMERS = ['c1', 'c2'];

/** Generators of argument lists, one per command of the embedded table (TIME aside: wall clock). */
export const GENERATORS: Record<string, Gen> = {
  GET: (r) => ['GET', r.key()],
  SET: (r) => {
    const a = ['SET', r.key(), r.pick([...INTS, 'v', 'w'])];
    if (r.chance(0.3)) a.push(r.pick(['NX', 'XX', 'GET', 'nx']));
    if (r.chance(0.3)) a.push(r.pick(['PX', 'EX', 'KEEPTTL']), ...(r.chance(0.9) ? [r.pick(TTLS)] : []));
    if (r.chance(0.05)) a.push('BOGUS');
    return a;
  },
  MGET: (r) => ['MGET', r.key(), r.key()],
  DEL: (r) => ['DEL', r.key(), ...(r.chance(0.3) ? [r.key()] : [])],
  EXISTS: (r) => ['EXISTS', r.key(), ...(r.chance(0.3) ? [r.key(), r.key()] : [])],
  TYPE: (r) => ['TYPE', r.key()],
  INCR: (r) => ['INCR', r.key()],
  DECR: (r) => ['DECR', r.key()],
  INCRBY: (r) => ['INCRBY', r.key(), r.pick(INTS)],
  DECRBY: (r) => ['DECRBY', r.key(), r.pick(INTS)],
  EXPIRE: (r) => ['EXPIRE', r.key(), r.pick(['10', '60', '0', '-1', 'x']), ...(r.chance(0.2) ? [r.pick(['NX', 'XX', 'GT', 'LT', 'ZZ'])] : [])],
  PEXPIRE: (r) => ['PEXPIRE', r.key(), r.pick(TTLS), ...(r.chance(0.2) ? [r.pick(['NX', 'XX', 'GT', 'LT'])] : []), ...(r.chance(0.05) ? ['NX'] : [])],
  EXPIREAT: (r) => ['EXPIREAT', r.key(), r.pick(['1', '0', '99999999999'])],
  PEXPIREAT: (r) => ['PEXPIREAT', r.key(), r.pick(['1', '0', '99999999999999'])],
  TTL: (r) => ['TTL', r.key()],
  PTTL: (r) => ['PTTL', r.key()],
  PERSIST: (r) => ['PERSIST', r.key()],
  HSET: (r) => ['HSET', r.key(), ...Array.from({ length: r.int(0, 5) }, () => [r.pick(FIELDS), r.pick(INTS)]).flat(), ...(r.chance(0.1) ? ['odd'] : [])],
  HSETNX: (r) => ['HSETNX', r.key(), r.pick(FIELDS), r.pick(INTS)],
  HGET: (r) => ['HGET', r.key(), r.pick(FIELDS)],
  HMGET: (r) => ['HMGET', r.key(), r.pick(FIELDS), r.pick(FIELDS)],
  HGETALL: (r) => ['HGETALL', r.key()],
  HKEYS: (r) => ['HKEYS', r.key()],
  HVALS: (r) => ['HVALS', r.key()],
  HLEN: (r) => ['HLEN', r.key()],
  HEXISTS: (r) => ['HEXISTS', r.key(), r.pick(FIELDS)],
  HDEL: (r) => ['HDEL', r.key(), r.pick(FIELDS), ...(r.chance(0.3) ? [r.pick(FIELDS)] : [])],
  HINCRBY: (r) => ['HINCRBY', r.key(), r.pick(FIELDS), r.pick(INTS)],
  SADD: (r) => ['SADD', r.key(), r.pick(MEMBERS), ...(r.chance(0.4) ? [r.pick(MEMBERS)] : [])],
  SREM: (r) => ['SREM', r.key(), r.pick(MEMBERS), ...(r.chance(0.3) ? [r.pick(MEMBERS)] : [])],
  SISMEMBER: (r) => ['SISMEMBER', r.key(), r.pick(MEMBERS)],
  SMISMEMBER: (r) => ['SMISMEMBER', r.key(), r.pick(MEMBERS), r.pick(MEMBERS)],
  SMEMBERS: (r) => ['SMEMBERS', r.key()],
  SCARD: (r) => ['SCARD', r.key()],
  SMOVE: (r) => ['SMOVE', r.key(), r.key(), r.pick(MEMBERS)],
  ZADD: (r) => {
    const a = ['ZADD', r.key()];
    for (let i = r.int(0, 2); i > 0; i--) a.push(r.pick(['NX', 'XX', 'GT', 'LT', 'CH', 'INCR']));
    for (let i = r.int(r.chance(0.05) ? 0 : 1, 3); i > 0; i--) a.push(r.pick(FLOATS), r.pick(MEMBERS));
    if (r.chance(0.05)) a.push('dangling');
    return a;
  },
  ZINCRBY: (r) => ['ZINCRBY', r.key(), r.pick(FLOATS), r.pick(MEMBERS)],
  ZREM: (r) => ['ZREM', r.key(), r.pick(MEMBERS), ...(r.chance(0.3) ? [r.pick(MEMBERS)] : [])],
  ZSCORE: (r) => ['ZSCORE', r.key(), r.pick(MEMBERS)],
  ZRANK: (r) => ['ZRANK', r.key(), r.pick(MEMBERS)],
  ZREVRANK: (r) => ['ZREVRANK', r.key(), r.pick(MEMBERS)],
  ZCARD: (r) => ['ZCARD', r.key()],
  ZCOUNT: (r) => ['ZCOUNT', r.key(), r.pick(BOUNDS), r.pick(BOUNDS)],
  ZRANGE: (r) => {
    if (r.chance(0.3)) {
      const a = ['ZRANGE', r.key(), r.pick(BOUNDS), r.pick(BOUNDS), 'BYSCORE'];
      if (r.chance(0.4)) a.push('REV');
      if (r.chance(0.4)) a.push('LIMIT', r.pick(['0', '1', '-1', '2']), r.pick(['1', '2', '-1', '0']));
      if (r.chance(0.4)) a.push('WITHSCORES');
      return a;
    }
    return ['ZRANGE', r.key(), r.pick(INTS.slice(0, 8)), r.pick(['-1', '0', '1', '2', '-2', '100', 'x']), ...(r.chance(0.3) ? ['REV'] : []), ...(r.chance(0.4) ? ['WITHSCORES'] : [])];
  },
  ZREVRANGE: (r) => ['ZREVRANGE', r.key(), r.pick(['0', '1', '-2']), r.pick(['-1', '0', '2']), ...(r.chance(0.4) ? ['WITHSCORES'] : [])],
  ZRANGEBYSCORE: (r) => [
    'ZRANGEBYSCORE', r.key(), r.pick(BOUNDS), r.pick(BOUNDS),
    ...(r.chance(0.3) ? ['WITHSCORES'] : []),
    ...(r.chance(0.4) ? ['LIMIT', r.pick(['0', '1', '-1', '3']), r.pick(['1', '2', '-1', '0'])] : []),
  ],
  ZREVRANGEBYSCORE: (r) => ['ZREVRANGEBYSCORE', r.key(), r.pick(BOUNDS), r.pick(BOUNDS), ...(r.chance(0.3) ? ['WITHSCORES'] : [])],
  ZREMRANGEBYSCORE: (r) => ['ZREMRANGEBYSCORE', r.key(), r.pick(BOUNDS), r.pick(BOUNDS)],
  ZREMRANGEBYRANK: (r) => ['ZREMRANGEBYRANK', r.key(), r.pick(['0', '1', '-1', '5']), r.pick(['0', '-1', '1', '-3'])],
  ZPOPMIN: (r) => ['ZPOPMIN', r.key(), ...(r.chance(0.5) ? [r.pick(['0', '1', '2', '-1', 'x'])] : [])],
  LPUSH: (r) => ['LPUSH', r.key(), r.pick(MEMBERS), ...(r.chance(0.3) ? [r.pick(MEMBERS)] : [])],
  RPUSH: (r) => ['RPUSH', r.key(), r.pick(MEMBERS), ...(r.chance(0.3) ? [r.pick(MEMBERS)] : [])],
  LPOP: (r) => ['LPOP', r.key(), ...(r.chance(0.3) ? [r.pick(['0', '1', '2', '-1', 'x'])] : [])],
  RPOP: (r) => ['RPOP', r.key(), ...(r.chance(0.3) ? [r.pick(['0', '1', '3'])] : [])],
  LLEN: (r) => ['LLEN', r.key()],
  LINDEX: (r) => ['LINDEX', r.key(), r.pick(['0', '1', '-1', '5', 'x'])],
  LRANGE: (r) => ['LRANGE', r.key(), r.pick(['0', '1', '-2', '9', 'x']), r.pick(['-1', '0', '2', '-5'])],
  LTRIM: (r) => ['LTRIM', r.key(), r.pick(['0', '1', '-2', '9']), r.pick(['-1', '0', '2', '-5', '49'])],
  XADD: (r) => {
    const a = ['XADD', r.key()];
    if (r.chance(0.15)) a.push('NOMKSTREAM');
    if (r.chance(0.25)) a.push(r.pick(['MAXLEN', 'MINID']), ...(r.chance(0.3) ? ['='] : []), r.pick(['2', '0', '-1', '3-0', '5']));
    a.push(r.pick(STREAM_IDS));
    for (let i = r.int(r.chance(0.05) ? 0 : 1, 2); i > 0; i--) a.push(r.pick(FIELDS), r.pick(MEMBERS));
    if (r.chance(0.05)) a.push('odd');
    return a;
  },
  XRANGE: (r) => ['XRANGE', r.key(), r.pick(RANGE_IDS), r.pick(RANGE_IDS), ...(r.chance(0.3) ? ['COUNT', r.pick(['1', '2', '0', '-1', 'x'])] : [])],
  XREVRANGE: (r) => ['XREVRANGE', r.key(), r.pick(RANGE_IDS), r.pick(RANGE_IDS), ...(r.chance(0.3) ? ['COUNT', r.pick(['1', '2'])] : [])],
  XLEN: (r) => ['XLEN', r.key()],
  XTRIM: (r) => ['XTRIM', r.key(), r.pick(['MAXLEN', 'MINID', 'BAD']), ...(r.chance(0.3) ? ['='] : []), r.pick(['1', '0', '2-0', '-1', 'x'])],
  XDEL: (r) => ['XDEL', r.key(), r.pick(STREAM_IDS), ...(r.chance(0.3) ? [r.pick(STREAM_IDS)] : [])],
  XGROUP: (r) => {
    const op = r.pick(['CREATE', 'CREATE', 'CREATE', 'DESTROY', 'CREATECONSUMER', 'DELCONSUMER', 'SETID']);
    const a = ['XGROUP', op, r.key(), r.pick(GROUPS)];
    if (op === 'CREATE') a.push(r.pick([...STREAM_IDS, '$', '0']), ...(r.chance(0.6) ? ['MKSTREAM'] : []));
    if (op === 'CREATECONSUMER' || op === 'DELCONSUMER') a.push(r.pick(CONSUMERS));
    if (op === 'SETID') a.push(r.pick(['$', '0', '2-0', 'x']));
    return a;
  },
  XREADGROUP: (r) => [
    'XREADGROUP', 'GROUP', r.pick(GROUPS), r.pick(CONSUMERS),
    ...(r.chance(0.5) ? ['COUNT', r.pick(['1', '2', '0', '-1'])] : []),
    ...(r.chance(0.1) ? ['NOACK'] : []),
    'STREAMS', r.key(), r.pick(['>', '>', '0', '1-0', 'x']),
  ],
  XACK: (r) => ['XACK', r.key(), r.pick(GROUPS), r.pick(STREAM_IDS.filter((id) => !id.includes('*'))), ...(r.chance(0.3) ? [r.pick(['1-0', '2-0', '5'])] : [])],
  XAUTOCLAIM: (r) => [
    'XAUTOCLAIM', r.key(), r.pick(GROUPS), r.pick(CONSUMERS), r.pick(['0', '0', '99999999999', 'x']), r.pick(['0', '-', '2-0', '(1-0']),
    ...(r.chance(0.5) ? ['COUNT', r.pick(['1', '2', '0'])] : []),
    ...(r.chance(0.2) ? ['JUSTID'] : []),
  ],
  PING: (r) => ['PING', ...(r.chance(0.3) ? ['hello'] : [])],
  PUBLISH: (r) => ['PUBLISH', r.pick(['ch1', 'ch2']), r.pick(MEMBERS)],
  SPUBLISH: (r) => ['SPUBLISH', r.pick(['ch1', 'ch2']), r.pick(MEMBERS)],
};

/** How a script sees a reply: as it returns (types as ioredis decodes them), or in cjson (status vs bulk, int vs string). */
const CALL_SCRIPTS = {
  pcall: `return redis.pcall(unpack(ARGV))`,
  json: `local r = redis.pcall(unpack(ARGV))
if type(r) == 'table' and not r.err and (ARGV[1] == 'SMEMBERS') then table.sort(r) end
return cjson.encode({r, type(r)})`,
  call: `return redis.call(unpack(ARGV))`,
  shape: `local r = redis.pcall(unpack(ARGV))
local out = {type(r)}
if type(r) == 'table' then out[2] = #r; out[3] = tostring(r.ok); out[4] = tostring(r.err) else out[2] = tostring(r) end
return out`,
};

/** Lua arithmetic and formatting on two numbers: 5.1 conversions, integer replies, %.17g arguments. */
const NUMBER_SCRIPT = `local a, b = tonumber(ARGV[1]), tonumber(ARGV[2])
local q = a / b
redis.call('SET', KEYS[1], q)
local x = redis.call('GET', KEYS[1])
redis.call('HSET', KEYS[2], 'p', a * b, 'd', a - b)
local h = redis.call('HMGET', KEYS[2], 'p', 'd')
return {tostring(q), q .. '', a * b .. '|' .. (a + b), x, h[1], h[2], string.format('%s %d %.3f %5.1f %g', q, a, q, a, q),
  cjson.encode({q, a, b, a * 1000, {}, {q}}), q, a * b, tostring(-q), tostring(1/0), math.floor(q), a % 3}`;
const NUMBERS = ['1', '2', '3', '-3', '10', '7', '0.5', '1e15', '123456789012345', '1764625296000', '0.1', '-2.75', '1e-5', '99999999999999.5', '4503599627370496'];

/** cjson round trips of random JSON texts. */
const JSON_SCRIPT = `local v = cjson.decode(ARGV[1])
return {cjson.encode(v), type(v), cjson.encode({v, v})}`;

function randomJson(r: Gen.Ctx, depth = 0): unknown {
  const k = depth > 2 ? r.int(0, 3) : r.int(0, 6);
  switch (k) {
    case 0:
      return r.pick([0, 1, -1, 0.5, 1e15, 123456789.123, -2.5e-8, 1e21, 42]);
    case 1:
      return r.pick(['a', '', 'é"\\/\n\t\u0001', 'x y', '\u007f', '中文']);
    case 2:
      return r.pick([true, false, null]);
    case 3:
      return r.pick([[], {}]);
    case 4:
    case 5:
      return Array.from({ length: r.int(1, 3) }, () => randomJson(r, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: r.int(1, 3) }, () => [r.pick(['k', 'l', 'm', '1']), randomJson(r, depth + 1)]));
  }
}

/** JSON with object members sorted and numbers kept as written: Lua tables iterate in no fixed order. */
export function canonicalJson(text: string): string {
  let i = 0;
  const ws = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const value = (): string => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const members: string[] = [];
      ws();
      if (text[i] === '}') {
        i++;
        return '{}';
      }
      for (;;) {
        ws();
        const k = value();
        ws();
        i++; // ':'
        members.push(`${k}:${value()}`);
        ws();
        if (text[i++] === '}') break;
      }
      return `{${members.sort().join(',')}}`;
    }
    if (c === '[') {
      i++;
      const items: string[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return '[]';
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[i++] === ']') break;
      }
      return `[${items.join(',')}]`;
    }
    if (c === '"') {
      const start = i++;
      while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      return text.slice(start, i);
    }
    const m = /^[^,\]}\s]+/.exec(text.slice(i))!;
    i += m[0].length;
    return m[0];
  };
  return value();
}

export type Outcome = { ok: unknown } | { err: string };

/**
 * Integers as decimal strings: the Redis side is read with `stringNumbers` (ioredis' own
 * parser rounds integers beyond 2^53); the `json` and `shape` scripts tell integers from strings.
 */
function plain(v: unknown): unknown {
  if (v instanceof Error) return { err: v.message };
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v).toString() : String(v);
  if (typeof v === 'bigint') return v.toString();
  return v;
}

async function outcome(p: Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: plain(await p) };
  } catch (err) {
    return { err: (err as Error).message };
  }
}

/** A remaining TTL on both sides, equal up to the time between the two calls (and TTL's rounding). */
function sameTtl(cmd: string, a: Outcome, b: Outcome): boolean {
  if (cmd !== 'PTTL' && cmd !== 'TTL') return false;
  if (!('ok' in a) || !('ok' in b)) return false;
  const [x, y] = [Number(a.ok), Number(b.ok)];
  return x > 0 && y > 0 && Math.abs(x - y) <= (cmd === 'PTTL' ? 500 : 1);
}

function normalize(cmd: string, o: Outcome): Outcome {
  if ('ok' in o && Array.isArray(o.ok) && cmd === 'SMEMBERS') return { ok: [...o.ok].sort() };
  return o;
}

export interface Step {
  script: string;
  keys: string[];
  args: string[];
  /** The command name, for normalising. */
  cmd: string;
}

/** `count` steps from `seed`; keys live under `prefix`. */
export function steps(seed: number, count: number, prefix: string): Step[] {
  const next = rng(seed);
  const ctx: Gen.Ctx = {
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    key: () => `${prefix}${Math.floor(next() * 6)}`,
    chance: (p) => next() < p,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
  };
  const names = Object.keys(GENERATORS);
  const out: Step[] = [];
  for (let i = 0; i < count; i++) {
    const roll = next();
    if (roll < 0.04) {
      out.push({ script: NUMBER_SCRIPT, keys: [ctx.key(), `${prefix}num`], args: [ctx.pick(NUMBERS), ctx.pick(NUMBERS)], cmd: 'NUMBERS' });
    } else if (roll < 0.08) {
      out.push({ script: JSON_SCRIPT, keys: [], args: [JSON.stringify(randomJson(ctx))], cmd: 'JSON' });
    } else {
      const args = GENERATORS[ctx.pick(names)]!(ctx);
      // A remaining TTL differs by the milliseconds between the two runs: read it as a reply to normalise.
      const mode = args[0] === 'PTTL' || args[0] === 'TTL' ? 'pcall' : ctx.pick(['pcall', 'pcall', 'json', 'call', 'shape'] as const);
      out.push({ script: CALL_SCRIPTS[mode], keys: [], args, cmd: args[0]! });
    }
  }
  return out;
}

export interface Mismatch {
  index: number;
  step: Step;
  redis: Outcome;
  embedded: Outcome;
}

function comparable(step: Step, o: Outcome): string {
  const n = normalize(step.cmd, o);
  if (step.script === CALL_SCRIPTS.json && 'ok' in n) return canonicalJson(String(n.ok));
  if (step.cmd === 'JSON' && 'ok' in n && Array.isArray(n.ok)) {
    return JSON.stringify([canonicalJson(String(n.ok[0])), n.ok[1], canonicalJson(String(n.ok[2]))]);
  }
  return JSON.stringify(n);
}

/** Runs the steps on both, in order; returns the first difference (null: identical throughout). */
export async function runBoth(redis: Redis, embedded: EmbeddedClient, list: Step[]): Promise<Mismatch | null> {
  for (let i = 0; i < list.length; i++) {
    const step = list[i]!;
    const [a, b] = await Promise.all([
      outcome(redis.eval(step.script, step.keys.length, ...step.keys, ...step.args)),
      outcome(embedded.eval(step.script, step.keys.length, ...step.keys, ...step.args)),
    ]);
    if (comparable(step, a) !== comparable(step, b) && !sameTtl(step.cmd, a, b)) return { index: i, step, redis: a, embedded: b };
  }
  return null;
}
