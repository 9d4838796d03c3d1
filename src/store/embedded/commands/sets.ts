import type { CommandTable, Context } from './types.ts';

function set(ctx: Context, key: string): Set<string> | undefined {
  return ctx.ks.read(key, 'set');
}

export const setCommands: CommandTable = {
  SADD: {
    arity: -3,
    run: (ctx, [key, ...members]) => {
      const s = ctx.ks.write(key!, 'set');
      let added = 0;
      for (const m of members) {
        if (!s.has(m)) {
          s.add(m);
          added++;
        }
      }
      return added;
    },
  },
  SREM: {
    arity: -3,
    run: (ctx, [key, ...members]) => {
      const s = set(ctx, key!);
      if (!s) return 0;
      const n = members.filter((m) => s.delete(m)).length;
      ctx.ks.settle(key!);
      return n;
    },
  },
  SISMEMBER: { arity: 3, run: (ctx, [key, m]) => (set(ctx, key!)?.has(m!) ? 1 : 0) },
  SMISMEMBER: {
    arity: -3,
    run: (ctx, [key, ...members]) => {
      const s = set(ctx, key!);
      return members.map((m) => (s?.has(m) ? 1 : 0));
    },
  },
  SMEMBERS: { arity: 2, run: (ctx, [key]) => [...(set(ctx, key!) ?? [])] },
  SCARD: { arity: 2, run: (ctx, [key]) => set(ctx, key!)?.size ?? 0 },
  SMOVE: {
    arity: 4,
    run: (ctx, [src, dst, m]) => {
      if (!ctx.ks.lookup(src!)) return 0;
      const from = set(ctx, src!)!;
      set(ctx, dst!); // WRONGTYPE before anything moves
      if (src === dst) return from.has(m!) ? 1 : 0;
      if (!from.delete(m!)) return 0;
      ctx.ks.settle(src!);
      ctx.ks.write(dst!, 'set').add(m!);
      return 1;
    },
  },
};
