import { CommandError } from './keyspace.ts';

export const NOT_INTEGER = 'ERR value is not an integer or out of range';
export const NOT_FLOAT = 'ERR value is not a valid float';
export const SYNTAX = 'ERR syntax error';

const INT = /^(0|-?[1-9][0-9]*)$/;
const MAX = 9223372036854775807n;
const MIN = -9223372036854775808n;

/** Redis' string2ll: canonical decimal integers in the int64 range, nothing else. */
export function parseInt64(s: string, error = NOT_INTEGER): number {
  if (s.length > 20 || !INT.test(s)) throw new CommandError(error);
  if (s.length >= 18) {
    const b = BigInt(s);
    if (b > MAX || b < MIN) throw new CommandError(error);
  }
  return Number(s);
}

const FLOAT = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;
const INF = /^([+-]?)inf(inity)?$/i;

/** strtod as Redis uses it for scores: no spaces, no NaN, "inf" allowed. */
export function parseFloat64(s: string, error = NOT_FLOAT): number {
  const inf = INF.exec(s);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  if (!FLOAT.test(s)) throw new CommandError(error);
  const n = Number(s);
  // strtod's ERANGE (overflow to inf, underflow to 0), which Redis refuses.
  if (!Number.isFinite(n) || (n === 0 && /[1-9]/.test(s.split(/[eE]/)[0]!))) throw new CommandError(error);
  return n;
}

/** A ZRANGEBYSCORE-style bound: a float, "(" for an exclusive one, +/-inf. */
export function parseBound(s: string): { value: number; exclusive: boolean } {
  const exclusive = s.startsWith('(');
  return { value: parseFloat64(exclusive ? s.slice(1) : s, 'ERR min or max is not a float'), exclusive };
}

/** Redis' start/stop index pair over a sequence of `len`, clamped; null when it selects nothing. */
export function indexRange(start: number, stop: number, len: number): [number, number] | null {
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return null;
  if (stop >= len) stop = len - 1;
  return [start, stop];
}

export function upper(s: string | undefined): string {
  return s === undefined ? '' : s.toUpperCase();
}

/**
 * Adds two int64 decimals (already checked with parseInt64), or Redis' overflow error: doubles
 * while exact, BigInt beyond 2^53. Returns the stored text and the integer reply.
 */
export function addInt64(a: string, b: string): { text: string; reply: number | bigint } {
  if (a.length < 16 && b.length < 16) {
    const n = Number(a) + Number(b);
    return { text: String(n), reply: n };
  }
  const exact = BigInt(a) + BigInt(b);
  if (exact > MAX || exact < MIN) throw new CommandError('ERR increment or decrement would overflow');
  const n = Number(exact);
  return { text: exact.toString(), reply: Number.isSafeInteger(n) ? n : exact };
}
