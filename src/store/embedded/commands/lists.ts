import { CommandError, StatusReply, type Reply } from '../keyspace.ts';
import { indexRange, parseInt64 } from '../parse.ts';
import type { CommandTable, Context } from './types.ts';

function list(ctx: Context, key: string): string[] | undefined {
  return ctx.ks.read(key, 'list');
}

function push(ctx: Context, [key, ...values]: string[], left: boolean): number {
  const l = ctx.ks.write(key!, 'list');
  if (left) for (const v of values) l.unshift(v);
  else l.push(...values);
  return l.length;
}

function pop(ctx: Context, [key, countArg, ...extra]: string[], left: boolean, name: string): Reply {
  if (extra.length) throw new CommandError(`ERR wrong number of arguments for '${name}' command`);
  let count: number | undefined;
  if (countArg !== undefined) {
    count = parseInt64(countArg, 'ERR value is out of range, must be positive');
    if (count < 0) throw new CommandError('ERR value is out of range, must be positive');
  }
  const l = list(ctx, key!);
  if (!l) return null;
  const taken = left ? l.splice(0, count ?? 1) : l.splice(Math.max(0, l.length - (count ?? 1))).reverse();
  ctx.ks.settle(key!);
  return count === undefined ? (taken[0] ?? null) : taken;
}

export const listCommands: CommandTable = {
  LPUSH: { arity: -3, run: (ctx, a) => push(ctx, a, true) },
  RPUSH: { arity: -3, run: (ctx, a) => push(ctx, a, false) },
  LPOP: { arity: -2, run: (ctx, a) => pop(ctx, a, true, 'lpop') },
  RPOP: { arity: -2, run: (ctx, a) => pop(ctx, a, false, 'rpop') },
  LLEN: { arity: 2, run: (ctx, [key]) => list(ctx, key!)?.length ?? 0 },
  LINDEX: {
    arity: 3,
    run: (ctx, [key, index]) => {
      const l = list(ctx, key!);
      if (!l) return null;
      const i = parseInt64(index!);
      return l[i < 0 ? l.length + i : i] ?? null;
    },
  },
  LRANGE: {
    arity: 4,
    run: (ctx, [key, start, stop]) => {
      const [from, to] = [parseInt64(start!), parseInt64(stop!)];
      const l = list(ctx, key!);
      const r = indexRange(from, to, l?.length ?? 0);
      return l && r ? l.slice(r[0], r[1] + 1) : [];
    },
  },
  LTRIM: {
    arity: 4,
    run: (ctx, [key, start, stop]) => {
      const [from, to] = [parseInt64(start!), parseInt64(stop!)];
      const l = list(ctx, key!);
      const r = indexRange(from, to, l?.length ?? 0);
      if (l) {
        if (r) {
          l.splice(r[1] + 1);
          l.splice(0, r[0]);
        } else l.length = 0;
        ctx.ks.settle(key!);
      }
      return new StatusReply('OK');
    },
  },
};
