import { CommandError, StatusReply, type Reply, type Stream, type StreamGroup } from '../keyspace.ts';
import { SYNTAX, parseInt64, upper } from '../parse.ts';
import { cmp, entryReply, idString, lowerBound, parseRangeId, parseStrictId, stream, upperBound, type Id } from './streams.ts';
import type { CommandTable, Context } from './types.ts';

/**
 * Consumer groups (XGROUP, XREADGROUP, XACK, XAUTOCLAIM) with Redis 7.0's semantics and
 * error texts: a group's last delivered ID, its pending entries (PEL) with owner, delivery
 * time and count. BLOCK is not supported (a script cannot block either).
 */

const NEEDS_KEY =
  'ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.';

function entryAt(s: Stream, id: Id) {
  const i = lowerBound(s.entries, id);
  const e = s.entries[i];
  return e && cmp(e, id) === 0 ? e : undefined;
}

function groupOf(ctx: Context, key: string, name: string, missing: string): { s: Stream; g: StreamGroup } {
  const s = stream(ctx, key);
  const g = s?.groups.get(name);
  if (!s || !g) throw new CommandError(missing);
  return { s, g };
}

/** The PEL in ID order (Redis keeps it in a radix tree). */
function pelInOrder(g: StreamGroup) {
  return [...g.pel.values()].sort(cmp);
}

function xgroup(ctx: Context, [sub, key, group, ...rest]: string[]): Reply {
  const op = upper(sub);
  const s = stream(ctx, key ?? '');
  const nogroup = `NOGROUP No such consumer group '${group}' for key name '${key}'`;
  if (op === 'CREATE') {
    const [id, ...opts] = rest;
    if (id === undefined) throw new CommandError("ERR wrong number of arguments for 'xgroup|create' command");
    let mk = false;
    for (let i = 0; i < opts.length; i++) {
      const o = upper(opts[i]);
      if (o === 'MKSTREAM') mk = true;
      else if (o === 'ENTRIESREAD' && i + 1 < opts.length) parseInt64(opts[++i]!);
      else throw new CommandError(SYNTAX);
    }
    if (!s && !mk) throw new CommandError(NEEDS_KEY);
    const last = id === '$' ? undefined : parseStrictId(id);
    const st = s ?? ctx.ks.write(key!, 'stream');
    if (st.groups.has(group!)) throw new CommandError('BUSYGROUP Consumer Group name already exists');
    st.groups.set(group!, { last: last ?? { ...st.last }, pel: new Map(), consumers: new Set() });
    return new StatusReply('OK');
  }
  if (op !== 'DESTROY' && op !== 'CREATECONSUMER' && op !== 'DELCONSUMER' && op !== 'SETID') {
    throw new CommandError(`ERR unknown subcommand '${sub}'. Try XGROUP HELP.`);
  }
  const arity = { DESTROY: 0, CREATECONSUMER: 1, DELCONSUMER: 1, SETID: 1 }[op];
  if (rest.length < arity || (op !== 'SETID' && rest.length > arity)) {
    throw new CommandError(`ERR wrong number of arguments for 'xgroup|${op.toLowerCase()}' command`);
  }
  if (!s) throw new CommandError(NEEDS_KEY);
  const g = s.groups.get(group!);
  if (op === 'DESTROY') return s.groups.delete(group!) ? 1 : 0;
  if (!g) throw new CommandError(nogroup);
  if (op === 'CREATECONSUMER') {
    if (g.consumers.has(rest[0]!)) return 0;
    g.consumers.add(rest[0]!);
    return 1;
  }
  if (op === 'DELCONSUMER') {
    if (!g.consumers.delete(rest[0]!)) return 0;
    let n = 0;
    for (const [k, p] of g.pel) if (p.consumer === rest[0]) (g.pel.delete(k), n++);
    return n;
  }
  const [id, ...opts] = rest;
  if (opts.length && !(opts.length === 2 && upper(opts[0]) === 'ENTRIESREAD')) throw new CommandError(SYNTAX);
  if (opts.length) parseInt64(opts[1]!);
  g.last = id === '$' ? { ...s.last } : parseStrictId(id!);
  return new StatusReply('OK');
}

function xreadgroup(ctx: Context, args: string[]): Reply {
  if (upper(args[0]) !== 'GROUP' || args.length < 3) throw new CommandError('ERR Missing GROUP option for XREADGROUP');
  const group = args[1]!;
  const consumer = args[2]!;
  let count = 0;
  let noAck = false;
  let i = 3;
  for (; i < args.length; i++) {
    const o = upper(args[i]);
    if (o === 'COUNT' && i + 1 < args.length) count = Math.max(0, parseInt64(args[++i]!));
    else if (o === 'NOACK') noAck = true;
    else if (o === 'STREAMS') break;
    else throw new CommandError(SYNTAX);
  }
  const rest = args.slice(i + 1);
  if (i >= args.length || rest.length === 0 || rest.length % 2 === 1) {
    throw new CommandError("ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.");
  }
  const n = rest.length / 2;
  const keys = rest.slice(0, n);
  // As Redis checks them: per key its type, its group, then its ID.
  const ids: (Id | null)[] = [];
  const targets = keys.map((key, k) => {
    const s = stream(ctx, key);
    const g = s?.groups.get(group);
    if (!s || !g) throw new CommandError(`NOGROUP No such key '${key}' or consumer group '${group}' in XREADGROUP with GROUP option`);
    const id = rest[n + k]!;
    ids.push(id === '>' ? null : parseStrictId(id));
    return { key, s, g };
  });
  const now = ctx.ks.now();
  const out: Reply[] = [];
  targets.forEach(({ key, s, g }, k) => {
    g.consumers.add(consumer);
    const from = ids[k] ?? null;
    const entries: Reply[] = [];
    if (from === null) {
      for (let j = upperBound(s.entries, g.last); j < s.entries.length && (count === 0 || entries.length < count); j++) {
        const e = s.entries[j]!;
        g.last = { ms: e.ms, seq: e.seq };
        if (!noAck) g.pel.set(idString(e), { ms: e.ms, seq: e.seq, consumer, at: now, count: 1 });
        entries.push(entryReply(e));
      }
      if (entries.length) out.push([key, entries]);
      return;
    }
    // Its own history: pending entries after `from`; deleted ones come back as [id, nil].
    for (const p of pelInOrder(g)) {
      if (p.consumer !== consumer || cmp(p, from) <= 0) continue;
      if (count > 0 && entries.length >= count) break;
      p.at = now;
      p.count++;
      const e = entryAt(s, p);
      entries.push(e ? entryReply(e) : [idString(p), null]);
    }
    out.push([key, entries]);
  });
  return out.length ? out : null;
}

function xack(ctx: Context, [key, group, ...ids]: string[]): Reply {
  const g = stream(ctx, key!)?.groups.get(group!);
  if (!g) return 0;
  const parsed = ids.map(parseStrictId);
  let n = 0;
  for (const id of parsed) if (g.pel.delete(idString(id))) n++;
  return n;
}

function xautoclaim(ctx: Context, [key, group, consumer, minIdleArg, startArg, ...opts]: string[]): Reply {
  const minIdle = Math.max(0, parseInt64(minIdleArg!, 'ERR Invalid min-idle-time argument for XAUTOCLAIM'));
  const start = parseRangeId(startArg!, true);
  let count = 100;
  let justId = false;
  for (let i = 0; i < opts.length; i++) {
    const o = upper(opts[i]);
    if (o === 'COUNT' && i + 1 < opts.length) {
      count = parseInt64(opts[++i]!, 'ERR COUNT must be > 0');
      if (count < 1) throw new CommandError('ERR COUNT must be > 0');
    } else if (o === 'JUSTID') justId = true;
    else throw new CommandError(SYNTAX);
  }
  const { s, g } = groupOf(ctx, key!, group!, `NOGROUP No such key '${key}' or consumer group '${group}'`);
  const now = ctx.ks.now();
  const pending = pelInOrder(g).filter((p) => cmp(p, start) >= 0);
  const claimed: Reply[] = [];
  const deleted: Reply[] = [];
  let attempts = count * 10;
  let next = 0;
  for (; next < pending.length && attempts > 0 && count > 0; next++, attempts--) {
    const p = pending[next]!;
    const e = entryAt(s, p);
    if (!e) {
      g.pel.delete(idString(p));
      deleted.push(idString(p));
      count--;
      continue;
    }
    if (minIdle > 0 && now - p.at < minIdle) continue;
    g.consumers.add(consumer!);
    p.consumer = consumer!;
    p.at = now;
    if (!justId) p.count++;
    claimed.push(justId ? idString(e) : entryReply(e));
    count--;
  }
  g.consumers.add(consumer!);
  const cursor = next < pending.length ? idString(pending[next]!) : '0-0';
  return [cursor, claimed, deleted];
}

export const streamGroupCommands: CommandTable = {
  XGROUP: { arity: -2, run: (ctx, args) => xgroup(ctx, args) },
  XREADGROUP: { arity: -7, run: xreadgroup },
  XACK: { arity: -4, run: xack },
  XAUTOCLAIM: { arity: -6, run: xautoclaim },
};
