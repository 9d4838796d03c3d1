import { CommandError, type Reply } from '../keyspace.ts';
import { addInt64, parseInt64 } from '../parse.ts';
import type { CommandTable, Context } from './types.ts';

function hash(ctx: Context, key: string): Map<string, string> | undefined {
  return ctx.ks.read(key, 'hash');
}

function hset(ctx: Context, [key, ...pairs]: string[], name: string): Reply {
  if (pairs.length % 2 === 1) throw new CommandError(`ERR wrong number of arguments for '${name}' command`);
  const h = ctx.ks.write(key!, 'hash');
  let added = 0;
  for (let i = 0; i < pairs.length; i += 2) {
    if (!h.has(pairs[i]!)) added++;
    h.set(pairs[i]!, pairs[i + 1]!);
  }
  return added;
}

export const hashCommands: CommandTable = {
  HSET: { arity: -4, run: (ctx, a) => hset(ctx, a, 'hset') },
  HSETNX: {
    arity: 4,
    run: (ctx, [key, field, value]) => {
      const h = ctx.ks.write(key!, 'hash');
      if (h.has(field!)) return 0;
      h.set(field!, value!);
      return 1;
    },
  },
  HGET: { arity: 3, run: (ctx, [key, field]) => hash(ctx, key!)?.get(field!) ?? null },
  HMGET: {
    arity: -3,
    run: (ctx, [key, ...fields]) => {
      const h = hash(ctx, key!);
      return fields.map((f) => h?.get(f) ?? null);
    },
  },
  HGETALL: {
    arity: 2,
    run: (ctx, [key]) => {
      const out: string[] = [];
      for (const [f, v] of hash(ctx, key!) ?? []) out.push(f, v);
      return out;
    },
  },
  HKEYS: { arity: 2, run: (ctx, [key]) => [...(hash(ctx, key!)?.keys() ?? [])] },
  HVALS: { arity: 2, run: (ctx, [key]) => [...(hash(ctx, key!)?.values() ?? [])] },
  HLEN: { arity: 2, run: (ctx, [key]) => hash(ctx, key!)?.size ?? 0 },
  HEXISTS: { arity: 3, run: (ctx, [key, field]) => (hash(ctx, key!)?.has(field!) ? 1 : 0) },
  HDEL: {
    arity: -3,
    run: (ctx, [key, ...fields]) => {
      const h = hash(ctx, key!);
      if (!h) return 0;
      const n = fields.filter((f) => h.delete(f)).length;
      ctx.ks.settle(key!);
      return n;
    },
  },
  HINCRBY: {
    arity: 4,
    run: (ctx, [key, field, by]) => {
      parseInt64(by!);
      const h = ctx.ks.write(key!, 'hash');
      const cur = h.get(field!) ?? '0';
      try {
        parseInt64(cur, 'ERR hash value is not an integer');
        const next = addInt64(cur, by!);
        h.set(field!, next.text);
        return next.reply;
      } finally {
        ctx.ks.settle(key!);
      }
    },
  },
};
