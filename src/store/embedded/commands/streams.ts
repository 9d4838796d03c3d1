import { CommandError, type Reply, type Stream, type StreamEntry } from '../keyspace.ts';
import { SYNTAX, parseInt64, upper } from '../parse.ts';
import type { CommandTable, Context } from './types.ts';

const BAD_ID = 'ERR Invalid stream ID specified as stream command argument';
const ID = /^(\d+)(?:-(\d+|\*))?$/;
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

interface Id {
  ms: number;
  seq: number;
}

const cmp = (a: Id, b: Id): number => a.ms - b.ms || a.seq - b.seq;
const idString = (e: Id): string => `${e.ms}-${e.seq}`;

function stream(ctx: Context, key: string): Stream | undefined {
  return ctx.ks.read(key, 'stream');
}

/** A range end: '-', '+', "ms" (the whole millisecond), "ms-seq", "(" for exclusive. */
function parseRangeId(s: string, isStart: boolean): Id {
  if (s === '-') return { ms: 0, seq: 0 };
  if (s === '+') return { ms: Number.MAX_SAFE_INTEGER, seq: MAX_SEQ };
  const exclusive = s.startsWith('(');
  const m = ID.exec(exclusive ? s.slice(1) : s);
  if (!m || m[2] === '*') throw new CommandError(BAD_ID);
  const id = { ms: Number(m[1]), seq: m[2] === undefined ? (isStart ? 0 : MAX_SEQ) : Number(m[2]) };
  if (!exclusive) return id;
  if (isStart) return id.seq === MAX_SEQ ? { ms: id.ms + 1, seq: 0 } : { ms: id.ms, seq: id.seq + 1 };
  if (id.ms === 0 && id.seq === 0) throw new CommandError('ERR invalid end ID for the interval');
  return id.seq === 0 ? { ms: id.ms - 1, seq: MAX_SEQ } : { ms: id.ms, seq: id.seq - 1 };
}

function entryReply(e: StreamEntry): Reply {
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
    for (let i = lowerBound(entries, { ms: end.ms, seq: end.seq + 1 }) - 1; i >= 0 && cmp(entries[i]!, start) >= 0; i--) {
      out.push(entryReply(entries[i]!));
      if (out.length === count) break;
    }
  }
  return out;
}

/** The first entry not before `id`. */
function lowerBound(entries: StreamEntry[], id: Id): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(entries[mid]!, id) < 0) lo = mid + 1;
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
    const min = parseRangeId(t.threshold, true);
    drop = lowerBound(s.entries, min);
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
  if (opt.trim?.strategy === 'MAXLEN' && parseInt64(opt.trim.threshold) < 0) throw new CommandError('ERR The MAXLEN argument must be >= 0.');
  if (opt.trim?.strategy === 'MINID') parseRangeId(opt.trim.threshold, true);
  if (fields.length < 2 || fields.length % 2 === 1) throw new CommandError("ERR wrong number of arguments for 'xadd' command");
  let explicit: { ms: number; seq: number | null } | null = null;
  if (idArg !== '*') {
    const m = ID.exec(idArg ?? '');
    if (!m) throw new CommandError(BAD_ID);
    explicit = { ms: Number(m[1]), seq: m[2] === '*' ? null : Number(m[2] ?? 0) };
    if (explicit.ms === 0 && explicit.seq === 0) throw new CommandError('ERR The ID specified in XADD must be greater than 0-0');
  }
  let s = stream(ctx, key!);
  if (!s && noMk) return null;
  s ??= ctx.ks.write(key!, 'stream');
  let id: Id;
  if (!explicit) {
    const now = ctx.ks.now();
    id = now > s.lastMs ? { ms: now, seq: 0 } : { ms: s.lastMs, seq: s.lastSeq + 1 };
  } else if (explicit.seq === null) {
    if (explicit.ms < s.lastMs) throw new CommandError('ERR The ID specified in XADD is equal or smaller than the target stream top item');
    id = { ms: explicit.ms, seq: explicit.ms === s.lastMs ? s.lastSeq + 1 : explicit.ms === 0 ? 1 : 0 };
  } else {
    id = { ms: explicit.ms, seq: explicit.seq };
    if (cmp(id, { ms: s.lastMs, seq: s.lastSeq }) <= 0) {
      throw new CommandError('ERR The ID specified in XADD is equal or smaller than the target stream top item');
    }
  }
  s.entries.push({ ms: id.ms, seq: id.seq, fields });
  s.lastMs = id.ms;
  s.lastSeq = id.seq;
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
      if (opt.trim!.strategy === 'MAXLEN' && parseInt64(opt.trim!.threshold) < 0) throw new CommandError('ERR The MAXLEN argument must be >= 0.');
      const s = stream(ctx, key!);
      return s ? trim(s, opt.trim!) : 0;
    },
  },
  XDEL: {
    arity: -3,
    run: (ctx, [key, ...ids]) => {
      const parsed = ids.map((x) => {
        const m = ID.exec(x);
        if (!m || m[2] === '*') throw new CommandError(BAD_ID);
        return { ms: Number(m[1]), seq: Number(m[2] ?? 0) };
      });
      const s = stream(ctx, key!);
      if (!s) return 0;
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
