import { CommandError, StatusReply, WRONGTYPE, type Reply } from '../keyspace.ts';
import { SYNTAX, addInt64, parseInt64, upper } from '../parse.ts';
import type { CommandTable, Context } from './types.ts';

const OK = new StatusReply('OK');

function getString(ctx: Context, key: string): string | null {
  return ctx.ks.read(key, 'string') ?? null;
}

function incrBy(ctx: Context, key: string, by: string): Reply {
  const cur = getString(ctx, key) ?? '0';
  parseInt64(cur);
  const next = addInt64(cur, by);
  ctx.ks.setString(key, next.text, true);
  return next.reply;
}

function set(ctx: Context, [key, value, ...opts]: string[]): Reply {
  let nx = false;
  let xx = false;
  let get = false;
  let keepTtl = false;
  let unit = '';
  let amount = '';
  for (let i = 0; i < opts.length; i++) {
    const o = upper(opts[i]);
    if (o === 'NX' && !xx) nx = true;
    else if (o === 'XX' && !nx) xx = true;
    else if (o === 'GET') get = true;
    else if (o === 'KEEPTTL' && !unit) keepTtl = true;
    else if ((o === 'EX' || o === 'PX' || o === 'EXAT' || o === 'PXAT') && !keepTtl && !unit && i + 1 < opts.length) {
      unit = o;
      amount = opts[++i]!;
    } else throw new CommandError(SYNTAX);
  }
  let at: number | undefined;
  if (unit) {
    const n = parseInt64(amount);
    if (n <= 0) throw new CommandError("ERR invalid expire time in 'set' command");
    const ms = unit === 'EX' || unit === 'EXAT' ? n * 1000 : n;
    at = unit === 'EX' || unit === 'PX' ? ctx.ks.now() + ms : ms;
  }
  const cur = ctx.ks.lookup(key!);
  if (get && cur && cur.type !== 'string') throw new CommandError(WRONGTYPE);
  const old = cur?.type === 'string' ? cur.v : null;
  if ((nx && cur) || (xx && !cur)) return get ? old : null;
  ctx.ks.setString(key!, value!, keepTtl);
  if (at !== undefined) ctx.ks.expireAt(key!, at);
  return get ? old : OK;
}

type Cond = 'NX' | 'XX' | 'GT' | 'LT';

function expire(ctx: Context, [key, amount, ...opts]: string[], unitMs: number, absolute: boolean, name: string): Reply {
  const flags = new Set<Cond>();
  for (const o of opts) {
    const u = upper(o);
    if (u !== 'NX' && u !== 'XX' && u !== 'GT' && u !== 'LT') throw new CommandError(`ERR Unsupported option ${o}`);
    flags.add(u);
  }
  if (flags.has('NX') && (flags.has('XX') || flags.has('GT') || flags.has('LT'))) {
    throw new CommandError('ERR NX and XX, GT or LT options at the same time are not compatible');
  }
  if (flags.has('GT') && flags.has('LT')) throw new CommandError('ERR GT and LT options at the same time are not compatible');
  const n = parseInt64(amount!);
  const ms = n * unitMs;
  if (!Number.isSafeInteger(ms) || (!absolute && !Number.isSafeInteger(ms + ctx.ks.now()))) {
    throw new CommandError(`ERR invalid expire time in '${name}' command`);
  }
  if (!ctx.ks.lookup(key!)) return 0;
  const at = absolute ? ms : ctx.ks.now() + ms;
  const cur = ctx.ks.expiry(key!);
  if (flags.has('NX') && cur !== undefined) return 0;
  if (flags.has('XX') && cur === undefined) return 0;
  if (flags.has('GT') && (cur === undefined || at <= cur)) return 0;
  if (flags.has('LT') && cur !== undefined && at >= cur) return 0;
  ctx.ks.expireAt(key!, at);
  return 1;
}

function ttl(ctx: Context, key: string, unitMs: number): number {
  if (!ctx.ks.lookup(key)) return -2;
  const at = ctx.ks.expiry(key);
  if (at === undefined) return -1;
  const left = Math.max(0, at - ctx.ks.now());
  return unitMs === 1 ? left : Math.floor((left + 500) / 1000);
}

export const stringCommands: CommandTable = {
  GET: { arity: 2, run: (ctx, [key]) => getString(ctx, key!) },
  SET: { arity: -3, run: set },
  MGET: {
    arity: -2,
    run: (ctx, keys) =>
      keys.map((k) => {
        const v = ctx.ks.lookup(k);
        return v?.type === 'string' ? v.v : null;
      }),
  },
  DEL: { arity: -2, run: (ctx, keys) => keys.filter((k) => ctx.ks.lookup(k) && ctx.ks.delete(k)).length },
  EXISTS: { arity: -2, run: (ctx, keys) => keys.filter((k) => ctx.ks.lookup(k)).length },
  TYPE: { arity: 2, run: (ctx, [key]) => new StatusReply(ctx.ks.lookup(key!)?.type ?? 'none') },
  INCR: { arity: 2, run: (ctx, [key]) => incrBy(ctx, key!, '1') },
  DECR: { arity: 2, run: (ctx, [key]) => incrBy(ctx, key!, '-1') },
  INCRBY: { arity: 3, run: (ctx, [key, by]) => (parseInt64(by!), incrBy(ctx, key!, by!)) },
  DECRBY: {
    arity: 3,
    run: (ctx, [key, by]) => {
      parseInt64(by!);
      if (by === '-9223372036854775808') throw new CommandError('ERR decrement would overflow');
      return incrBy(ctx, key!, by!.startsWith('-') ? by!.slice(1) : by === '0' ? '0' : `-${by}`);
    },
  },
  EXPIRE: { arity: -3, run: (ctx, a) => expire(ctx, a, 1000, false, 'expire') },
  PEXPIRE: { arity: -3, run: (ctx, a) => expire(ctx, a, 1, false, 'pexpire') },
  EXPIREAT: { arity: -3, run: (ctx, a) => expire(ctx, a, 1000, true, 'expireat') },
  PEXPIREAT: { arity: -3, run: (ctx, a) => expire(ctx, a, 1, true, 'pexpireat') },
  TTL: { arity: 2, run: (ctx, [key]) => ttl(ctx, key!, 1000) },
  PTTL: { arity: 2, run: (ctx, [key]) => ttl(ctx, key!, 1) },
  PERSIST: {
    arity: 2,
    run: (ctx, [key]) => {
      if (ctx.ks.expiry(key!) === undefined) return 0;
      ctx.ks.expireAt(key!, undefined);
      return 1;
    },
  },
};
