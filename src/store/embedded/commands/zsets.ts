import { CommandError, type Reply } from '../keyspace.ts';
import { formatG } from '../number-format.ts';
import { NOT_FLOAT, SYNTAX, indexRange, parseBound, parseFloat64, parseInt64, upper } from '../parse.ts';
import type { SortedSet } from '../sorted-set.ts';
import type { CommandTable, Context } from './types.ts';

/** Scores go out as Redis 7.0 prints doubles: %.17g, inf as "inf". */
export const score = (n: number): string => formatG(n, 17);

function zset(ctx: Context, key: string): SortedSet | undefined {
  return ctx.ks.read(key, 'zset');
}

function zadd(ctx: Context, [key, ...rest]: string[]): Reply {
  const flags = new Set<string>();
  let i = 0;
  for (; i < rest.length; i++) {
    const o = upper(rest[i]);
    if (o !== 'NX' && o !== 'XX' && o !== 'GT' && o !== 'LT' && o !== 'CH' && o !== 'INCR') break;
    flags.add(o);
  }
  const pairs = rest.slice(i);
  if (pairs.length === 0 || pairs.length % 2 === 1) throw new CommandError(SYNTAX);
  if (flags.has('NX') && flags.has('XX')) throw new CommandError('ERR XX and NX options at the same time are not compatible');
  if ((flags.has('GT') && flags.has('NX')) || (flags.has('LT') && flags.has('NX')) || (flags.has('GT') && flags.has('LT'))) {
    throw new CommandError('ERR GT, LT, and/or NX options at the same time are not compatible');
  }
  if (flags.has('INCR') && pairs.length > 2) throw new CommandError('ERR INCR option supports a single increment-element pair');
  const scores: number[] = [];
  for (let j = 0; j < pairs.length; j += 2) scores.push(parseFloat64(pairs[j]!));
  let z = zset(ctx, key!);
  if (!z && flags.has('XX')) return flags.has('INCR') ? null : 0;
  z ??= ctx.ks.write(key!, 'zset');
  let added = 0;
  let changed = 0;
  let last: number | null = null;
  for (let j = 0; j < scores.length; j++) {
    const member = pairs[2 * j + 1]!;
    const cur = z.score(member);
    let next = scores[j]!;
    if (cur === undefined) {
      if (flags.has('XX')) continue;
      if (Number.isNaN(next)) throw new CommandError('ERR resulting score is not a number (NaN)');
      z.add(member, next);
      added++;
      last = next;
      continue;
    }
    if (flags.has('NX')) {
      last = null;
      continue;
    }
    if (flags.has('INCR')) {
      next = cur + next;
      if (Number.isNaN(next)) throw new CommandError('ERR resulting score is not a number (NaN)');
    }
    if ((flags.has('GT') && next <= cur) || (flags.has('LT') && next >= cur)) {
      last = null;
      continue;
    }
    last = next;
    if (next !== cur) {
      z.add(member, next);
      changed++;
    }
  }
  ctx.ks.settle(key!);
  if (flags.has('INCR')) return last === null ? null : score(last);
  return flags.has('CH') ? added + changed : added;
}

/** The ranks [first, end) of the scores between two bounds (parsed before the key is read, as Redis does). */
function byScore(ctx: Context, key: string, minArg: string, maxArg: string): { z: SortedSet; first: number; end: number } | null {
  const min = parseBound(minArg);
  const max = parseBound(maxArg);
  const z = zset(ctx, key);
  if (!z) return null;
  const [first, end] = z.scoreRange(min.value, min.exclusive, max.value, max.exclusive);
  return { z, first, end };
}

function withScores(z: SortedSet, members: string[], scores: boolean): string[] {
  if (!scores) return members;
  const out: string[] = [];
  for (const m of members) out.push(m, score(z.score(m)!));
  return out;
}

/** LIMIT offset count applied to ranks [first, end) in either direction. */
function limited(z: SortedSet, first: number, end: number, rev: boolean, offset: number, count: number): string[] {
  if (offset < 0 || first >= end) return [];
  const n = end - first;
  const take = count < 0 ? n - offset : Math.min(count, n - offset);
  if (take <= 0) return [];
  if (!rev) return z.slice(first + offset, first + offset + take - 1);
  return z.slice(end - offset - take, end - offset - 1).reverse();
}

function rangeByScore(ctx: Context, key: string, minArg: string, maxArg: string, opts: string[], rev: boolean): Reply {
  let scores = false;
  let offset = 0;
  let count = -1;
  for (let i = 0; i < opts.length; i++) {
    const o = upper(opts[i]);
    if (o === 'WITHSCORES') scores = true;
    else if (o === 'LIMIT' && i + 2 < opts.length) {
      offset = parseInt64(opts[++i]!);
      count = parseInt64(opts[++i]!);
    } else throw new CommandError(SYNTAX);
  }
  const r = byScore(ctx, key, minArg, maxArg);
  return r ? withScores(r.z, limited(r.z, r.first, r.end, rev, offset, count), scores) : [];
}

function range(ctx: Context, [key, start, stop, ...opts]: string[]): Reply {
  let byScore = false;
  let rev = false;
  let scores = false;
  let limit: string[] = [];
  for (let i = 0; i < opts.length; i++) {
    const o = upper(opts[i]);
    if (o === 'BYSCORE') byScore = true;
    else if (o === 'REV') rev = true;
    else if (o === 'WITHSCORES') scores = true;
    else if (o === 'LIMIT' && i + 2 < opts.length) limit = ['LIMIT', opts[++i]!, opts[++i]!];
    else throw new CommandError(SYNTAX);
  }
  if (byScore) {
    const [min, max] = rev ? [stop!, start!] : [start!, stop!];
    return rangeByScore(ctx, key!, min, max, [...limit, ...(scores ? ['WITHSCORES'] : [])], rev);
  }
  if (limit.length) throw new CommandError('ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX');
  return indexed(ctx, key!, start!, stop!, rev, scores);
}

function indexed(ctx: Context, key: string, start: string, stop: string, rev: boolean, scores: boolean): Reply {
  const [from, to] = [parseInt64(start), parseInt64(stop)];
  const z = zset(ctx, key);
  const len = z?.size ?? 0;
  const r = indexRange(from, to, len);
  if (!z || !r) return [];
  const members = rev ? z.slice(len - 1 - r[1], len - 1 - r[0]).reverse() : z.slice(r[0], r[1]);
  return withScores(z, members, scores);
}

export const zsetCommands: CommandTable = {
  ZADD: { arity: -4, run: zadd },
  ZINCRBY: {
    arity: 4,
    run: (ctx, [key, by, member]) => {
      const incr = parseFloat64(by!, NOT_FLOAT);
      const z = ctx.ks.write(key!, 'zset');
      const next = (z.score(member!) ?? 0) + incr;
      if (Number.isNaN(next)) {
        ctx.ks.settle(key!);
        throw new CommandError('ERR resulting score is not a number (NaN)');
      }
      z.add(member!, next);
      return score(next);
    },
  },
  ZREM: {
    arity: -3,
    run: (ctx, [key, ...members]) => {
      const z = zset(ctx, key!);
      if (!z) return 0;
      const n = members.filter((m) => z.remove(m)).length;
      ctx.ks.settle(key!);
      return n;
    },
  },
  ZSCORE: {
    arity: 3,
    run: (ctx, [key, member]) => {
      const s = zset(ctx, key!)?.score(member!);
      return s === undefined ? null : score(s);
    },
  },
  ZRANK: { arity: 3, run: (ctx, [key, member]) => zset(ctx, key!)?.rank(member!) ?? null },
  ZREVRANK: {
    arity: 3,
    run: (ctx, [key, member]) => {
      const z = zset(ctx, key!);
      const r = z?.rank(member!);
      return r === undefined || r === null ? null : z!.size - 1 - r;
    },
  },
  ZCARD: { arity: 2, run: (ctx, [key]) => zset(ctx, key!)?.size ?? 0 },
  ZCOUNT: {
    arity: 4,
    run: (ctx, [key, min, max]) => {
      const r = byScore(ctx, key!, min!, max!);
      return r ? r.end - r.first : 0;
    },
  },
  ZRANGE: { arity: -4, run: range },
  ZREVRANGE: {
    arity: -4,
    run: (ctx, [key, start, stop, ...opts]) => {
      if (opts.length > 1 || (opts.length === 1 && upper(opts[0]) !== 'WITHSCORES')) throw new CommandError(SYNTAX);
      return indexed(ctx, key!, start!, stop!, true, opts.length === 1);
    },
  },
  ZRANGEBYSCORE: { arity: -4, run: (ctx, [key, min, max, ...opts]) => rangeByScore(ctx, key!, min!, max!, opts, false) },
  ZREVRANGEBYSCORE: { arity: -4, run: (ctx, [key, max, min, ...opts]) => rangeByScore(ctx, key!, min!, max!, opts, true) },
  ZREMRANGEBYSCORE: {
    arity: 4,
    run: (ctx, [key, min, max]) => {
      const r = byScore(ctx, key!, min!, max!);
      if (!r) return 0;
      const { z, first, end } = r;
      for (const m of z.slice(first, end - 1)) z.remove(m);
      ctx.ks.settle(key!);
      return end - first;
    },
  },
  ZREMRANGEBYRANK: {
    arity: 4,
    run: (ctx, [key, start, stop]) => {
      const [from, to] = [parseInt64(start!), parseInt64(stop!)];
      const z = zset(ctx, key!);
      const r = indexRange(from, to, z?.size ?? 0);
      if (!z || !r) return 0;
      for (const m of z.slice(r[0], r[1])) z.remove(m);
      ctx.ks.settle(key!);
      return r[1] - r[0] + 1;
    },
  },
  ZPOPMIN: {
    arity: -2,
    run: (ctx, [key, countArg, ...extra]) => {
      if (extra.length) throw new CommandError(SYNTAX);
      const count = countArg === undefined ? 1 : parseInt64(countArg, 'ERR value is out of range, must be positive');
      if (count < 0) throw new CommandError('ERR value is out of range, must be positive');
      const z = zset(ctx, key!);
      if (!z) return [];
      const out: string[] = [];
      for (const m of z.slice(0, count - 1)) {
        out.push(m, score(z.score(m)!));
        z.remove(m);
      }
      ctx.ks.settle(key!);
      return out;
    },
  },
};
