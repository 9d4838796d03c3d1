/**
 * C's `%.<p>g` for doubles, as glibc prints it (exact value, ties to even). Lua 5.1 turns
 * numbers into strings with %.14g and Redis 7.0 passes numeric redis.call arguments and
 * scores with %.17g; JavaScript's own conversions differ (exponent thresholds, ties).
 */
export function formatG(x: number, p: number): string {
  if (Number.isNaN(x)) return '-nan'; // x86's default NaN has its sign bit set, so glibc prints "-nan"
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  // Integers with no more digits than the precision print as themselves: the hot path.
  if (Number.isSafeInteger(x) && Math.abs(x) < 10 ** p) return String(x);
  const neg = x < 0;
  const { digits, exp } = roundedDigits(exactDecimal(Math.abs(x)), p);
  let out: string;
  if (exp < -4 || exp >= p) {
    const mant = stripZeros(digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits);
    out = `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  } else if (exp >= 0) {
    const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    out = stripZeros(frac ? `${int}.${frac}` : int);
  } else {
    out = stripZeros(`0.${'0'.repeat(-exp - 1)}${digits}`);
  }
  return neg ? `-${out}` : out;
}

function stripZeros(s: string): string {
  if (!s.includes('.')) return s;
  return s.replace(/0+$/, '').replace(/\.$/, '');
}

/** The exact decimal value of a finite positive double: its digits and the power of ten of the first. */
function exactDecimal(x: number): { digits: string; exp: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e2: number;
  if (biased === 0) e2 = -1074;
  else {
    mant |= 1n << 52n;
    e2 = biased - 1075;
  }
  // x = mant * 2^e2 = mant * 5^-e2 / 10^-e2 when e2 < 0.
  let digits: string;
  let point: number; // digits before the decimal point
  if (e2 >= 0) {
    digits = (mant << BigInt(e2)).toString();
    point = digits.length;
  } else {
    digits = (mant * 5n ** BigInt(-e2)).toString();
    point = digits.length + e2;
  }
  const lead = digits.length - digits.replace(/^0+/, '').length;
  return { digits: digits.slice(lead).replace(/0+$/, '') || '0', exp: point - lead - 1 };
}

/** `p` significant digits, rounded half to even on the exact value (what glibc does). */
function roundedDigits(d: { digits: string; exp: number }, p: number): { digits: string; exp: number } {
  if (d.digits.length <= p) return d;
  const keep = d.digits.slice(0, p);
  const next = d.digits.charCodeAt(p) - 48;
  const rest = d.digits.slice(p + 1);
  const up = next > 5 || (next === 5 && (/[1-9]/.test(rest) || (keep.charCodeAt(p - 1) - 48) % 2 === 1));
  if (!up) return { digits: keep, exp: d.exp };
  const bumped = (BigInt(keep) + 1n).toString();
  return bumped.length > p ? { digits: bumped.slice(0, p), exp: d.exp + 1 } : { digits: bumped, exp: d.exp };
}

/** C's `%.<p>f` for doubles: the exact value rounded half to even at p decimals. */
export function formatFixed(x: number, p: number): string {
  // The scripts' int(): an exactly representable integer prints as JS prints it.
  if (p === 0 && Number.isSafeInteger(x) && !Object.is(x, -0)) return String(x);
  if (!Number.isFinite(x)) return formatG(x, 1);
  const neg = x < 0 || Object.is(x, -0);
  const body = fixedDigits(Math.abs(x), p);
  return neg ? `-${body}` : body;
}

function fixedDigits(x: number, p: number): string {
  if (x === 0) return p > 0 ? `0.${'0'.repeat(p)}` : '0';
  const d = exactDecimal(x);
  const significant = d.exp + 1 + p;
  let digits: string;
  let exp = d.exp;
  if (significant <= 0) {
    // Everything is below the last kept decimal: 0, or 1 there when above half of it.
    const half = significant === 0 && (d.digits[0]! > '5' || (d.digits[0] === '5' && /[1-9]/.test(d.digits.slice(1))));
    digits = half ? '1' : '0';
    exp = -p;
  } else {
    const r = roundedDigits(d, significant);
    digits = r.digits.padEnd(r.exp + 1 + p, '0');
    exp = r.exp;
  }
  // digits now hold every digit from 10^exp down to 10^-p.
  const intLen = exp + 1;
  const all = intLen > 0 ? digits : '0'.repeat(1 - intLen) + digits;
  const point = Math.max(intLen, 1);
  const int = all.slice(0, point).replace(/^0+(?=\d)/, '');
  return p > 0 ? `${int}.${all.slice(point, point + p).padEnd(p, '0')}` : int;
}
