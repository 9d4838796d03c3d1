import { CommandError, type Reply, type Stream, type StreamEntry } from '../keyspace.ts';
import { SYNTAX, parseInt64, upper } from '../parse.ts';
import type { CommandTable, Context } from './types.ts';

const BAD_ID = 'ERR Invalid stream ID specified as stream command argument';
const ID = /^(\d+)(?:-(\d+|\*))?$/;
const MAX = 18446744073709551615n;

/** Stream IDs are two uint64s, exact (BigInt), as Redis keeps them. */
export interface Id {
  ms: bigint;
  seq: bigint;
}

export const cmp = (a: Id, b: Id): number => (a.ms < b.ms ? -1 : a.ms > b.ms ? 1 : a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0);

function u64(s: string): bigint {
  const n = BigInt(s);
  if (n > MAX) throw new CommandError(BAD_ID);
  return n;
}
export const idString = (e: Id): string => `${e.ms}-${e.seq}`;

export function stream(ctx: Context, key: string): Stream | undefined {
  return ctx.ks.read(key, 'stream');
}

/** A range end: '-', '+', "ms" (the whole millisecond), "ms-seq", "(" for exclusive. */
export function parseRangeId(s: string, isStart: boolean): Id {
  if (s === '-') return { ms: 0n, seq: 0n };
  if (s === '+') return { ms: MAX, seq: MAX };
  const exclusive = s.startsWith('(');
  const m = ID.exec(exclusive ? s.slice(1) : s);
  if (!m || m[2] === '*') throw new CommandError(BAD_ID);
  const id = { ms: u64(m[1]!), seq: m[2] === undefined ? (isStart ? 0n : MAX) : u64(m[2]) };
  if (!exclusive) return id;
  if (isStart) {
    if (id.ms === MAX && id.seq === MAX) throw new CommandError('ERR invalid start ID for the interval');
    return id.seq === MAX ? { ms: id.ms + 1n, seq: 0n } : { ms: id.ms, seq: id.seq + 1n };
  }
  if (id.ms === 0n && id.seq === 0n) throw new CommandError('ERR invalid end ID for the interval');
  return id.seq === 0n ? { ms: id.ms - 1n, seq: MAX } : { ms: id.ms, seq: id.seq - 1n };
}

/** An exact ID ("ms" meaning ms-0), no '-', '+' or '*'. */
export function parseStrictId(s: string): Id {
  const m = ID.exec(s);
  if (!m || m[2] === '*') throw new CommandError(BAD_ID);
  return { ms: u64(m[1]!), seq: u64(m[2] ?? '0') };
}

export function entryReply(e: StreamEntry): Reply {
  return [idString(e), e.fields.slice()];
}

function range(ctx: Context, [key, a, b, ...opts]: string[], rev: boolean): Reply {
  const start = parseRangeId(rev ? b! : a!, true);
  const end = parseRangeId(rev ? a! : b!, false);
  let count = -1;
  for (let i = 0; i < opts.length; i++) {
    if (upper(opts[i]) === 'COUNT' && i + 1 < opts.length) {
      count = Math.max(0, parseInt64(opts[++i]!));
    } else throw new CommandError(SYNTAX);
  }
  const s = stream(ctx, key!);
  if (!s) return [];
  if (count === 0) return null;
  const out: Reply[] = [];
  const entries = s.entries;
  if (!rev) {
    for (let i = lowerBound(entries, start); i < entries.length && cmp(entries[i]!, end) <= 0; i++) {
      out.push(entryReply(entries[i]!));
      if (out.length === count) break;
    }
  } else {
    for (let i = upperBound(entries, end) - 1; i >= 0 && cmp(entries[i]!, start) >= 0; i--) {
      out.push(entryReply(entries[i]!));
      if (out.length === count) break;
    }
  }
  return out;
}

/** The first entry not before `id`. */
export function lowerBound(entries: StreamEntry[], id: Id): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(entries[mid]!, id) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first entry after `id`. */
export function upperBound(entries: StreamEntry[], id: Id): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(entries[mid]!, id) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface Trim {
  strategy: 'MAXLEN' | 'MINID';
  threshold: string;
}

/** MAXLEN / MINID [=|~] threshold [LIMIT n] from args[i..]; returns the index after it. */
function parseTrim(args: string[], i: number, out: { trim?: Trim }): number {
  const strategy = upper(args[i]) as Trim['strategy'];
  if (out.trim) throw new CommandError('ERR syntax error, MAXLEN and MINID options at the same time are not compatible');
  i++;
  let approx = false;
  if (args[i] === '=' || args[i] === '~') approx = args[i++] === '~';
  if (i >= args.length) throw new CommandError(SYNTAX);
  out.trim = { strategy, threshold: args[i++]! };
  if (strategy === 'MAXLEN' && parseInt64(out.trim.threshold) < 0) throw new CommandError('ERR The MAXLEN argument must be >= 0.');
  if (strategy === 'MINID') parseStrictId(out.trim.threshold);
  if (upper(args[i]) === 'LIMIT' && i + 1 < args.length) {
    parseInt64(args[i + 1]!);
    if (!approx) throw new CommandError('ERR syntax error, LIMIT cannot be used without the special ~ option');
    i += 2;
  }
  return i;
}

/**
 * Trims exactly. Redis trims `~` requests only by whole radix-tree nodes (keeping more
 * entries than asked); here `~` trims as exactly as `=` would, which Redis also allows.
 */
function trim(s: Stream, t: Trim): number {
  let drop = 0;
  if (t.strategy === 'MAXLEN') {
    const max = parseInt64(t.threshold);
    if (max < 0) throw new CommandError('ERR The MAXLEN argument must be >= 0.');
    drop = Math.max(0, s.entries.length - max);
  } else {
    drop = lowerBound(s.entries, parseStrictId(t.threshold));
  }
  s.entries.splice(0, drop);
  return drop;
}

function xadd(ctx: Context, [key, ...args]: string[]): Reply {
  let noMk = false;
  const opt: { trim?: Trim } = {};
  let i = 0;
  for (;;) {
    const o = upper(args[i]);
    if (o === 'NOMKSTREAM') {
      noMk = true;
      i++;
    } else if (o === 'MAXLEN' || o === 'MINID') i = parseTrim(args, i, opt);
    else break;
  }
  const idArg = args[i++];
  const fields = args.slice(i);
  let explicit: { ms: bigint; seq: bigint | null } | null = null;
  if (idArg !== '*') {
    const m = ID.exec(idArg ?? '');
    if (!m) throw new CommandError(BAD_ID);
    explicit = { ms: u64(m[1]!), seq: m[2] === '*' ? null : u64(m[2] ?? '0') };
  }
  if (fields.length < 2 || fields.length % 2 === 1) throw new CommandError("ERR wrong number of arguments for 'xadd' command");
  if (explicit && explicit.ms === 0n && explicit.seq === 0n) throw new CommandError('ERR The ID specified in XADD must be greater than 0-0');
  let s = stream(ctx, key!);
  if (!s && noMk) return null;
  s ??= ctx.ks.write(key!, 'stream');
  const TOO_SMALL = 'ERR The ID specified in XADD is equal or smaller than the target stream top item';
  const last = s.last;
  let id: Id;
  if (!explicit) {
    const now = BigInt(Math.floor(ctx.ks.now()));
    if (last.ms === MAX && last.seq === MAX) throw new CommandError('ERR The stream has exhausted the last possible ID, unable to add more items');
    id = now > last.ms ? { ms: now, seq: 0n } : last.seq === MAX ? { ms: last.ms + 1n, seq: 0n } : { ms: last.ms, seq: last.seq + 1n };
  } else if (explicit.seq === null) {
    if (explicit.ms < last.ms || (explicit.ms === last.ms && last.seq === MAX)) throw new CommandError(TOO_SMALL);
    id = { ms: explicit.ms, seq: explicit.ms === last.ms ? last.seq + 1n : explicit.ms === 0n ? 1n : 0n };
  } else {
    id = { ms: explicit.ms, seq: explicit.seq };
    if (cmp(id, last) <= 0) throw new CommandError(TOO_SMALL);
  }
  s.entries.push({ ms: id.ms, seq: id.seq, fields });
  s.last = id;
  if (opt.trim) trim(s, opt.trim);
  return idString(id);
}

export const streamCommands: CommandTable = {
  XADD: { arity: -5, run: xadd },
  XRANGE: { arity: -4, run: (ctx, a) => range(ctx, a, false) },
  XREVRANGE: { arity: -4, run: (ctx, a) => range(ctx, a, true) },
  XLEN: { arity: 2, run: (ctx, [key]) => stream(ctx, key!)?.entries.length ?? 0 },
  XTRIM: {
    arity: -4,
    run: (ctx, [key, ...args]) => {
      const o = upper(args[0]);
      if (o !== 'MAXLEN' && o !== 'MINID') throw new CommandError(SYNTAX);
      const opt: { trim?: Trim } = {};
      if (parseTrim(args, 0, opt) !== args.length) throw new CommandError(SYNTAX);
      const s = stream(ctx, key!);
      return s ? trim(s, opt.trim!) : 0;
    },
  },
  XDEL: {
    arity: -3,
    run: (ctx, [key, ...ids]) => {
      const s = stream(ctx, key!);
      if (!s) return 0;
      const parsed = ids.map(parseStrictId);
      let n = 0;
      for (const id of parsed) {
        const i = lowerBound(s.entries, id);
        if (i < s.entries.length && cmp(s.entries[i]!, id) === 0) {
          s.entries.splice(i, 1);
          n++;
        }
      }
      return n;
    },
  },
};
