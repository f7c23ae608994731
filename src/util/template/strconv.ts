/**
 * Go's strconv as fmt and the templates use it: FormatFloat's shortest 'g' form, %e/%f/%g
 * with a precision from the double's exact decimal value (half-to-even rounding, as Go;
 * JavaScript's toFixed rounds halves up), and Quote. Pure functions, no fmt verbs here.
 */

/** strconv.FormatFloat(f, 'g', -1, 64), which fmt's %v uses: %e when exp < -4 || exp >= 6 (so 1e+06), else %f. */
export function formatFloatG(f: number, shortestExpLimit = 6): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const [mant, expStr] = f.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  if (exp < -4 || exp >= shortestExpLimit) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  const neg = mant.startsWith('-');
  const digits = mant.replace(/^-/, '').replace('.', '');
  let s: string;
  if (exp >= 0) s = digits.length > exp + 1 ? `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}` : digits.padEnd(exp + 1, '0');
  else s = `0.${'0'.repeat(-exp - 1)}${digits}`;
  return neg ? `-${s}` : s;
}

/** fmt's %v of a float64: 'g' with the shortest digits, so 1000000 prints 1e+06 as in Go. */
export const formatFloatV = (f: number): string => formatFloatG(f);

const PRINTABLE = /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u;

/** strconv.Quote: Go escapes, printable Unicode kept as is. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x80) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0xfffd || PRINTABLE.test(ch)) out += ch;
    else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += `\\U${c.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/**
 * The exact decimal value of a finite double: digits (no leading zeros) and
 * the power of ten of the first digit's place plus one (value = 0.DIGITS × 10^point).
 */
function exactDecimal(f: number): { digits: string; point: number } {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, Math.abs(f));
  const bits = dv.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & 0xfffffffffffffn;
  let e: number;
  if (expBits === 0) e = -1074;
  else {
    mant |= 1n << 52n;
    e = expBits - 1075;
  }
  if (mant === 0n) return { digits: '0', point: 1 };
  let digits: string;
  let frac: number; // digits after the decimal point
  if (e >= 0) {
    digits = (mant << BigInt(e)).toString();
    frac = 0;
  } else {
    digits = (mant * 5n ** BigInt(-e)).toString();
    frac = -e;
  }
  const point = digits.length - frac;
  const trimmed = digits.replace(/^0+/, '');
  return { digits: trimmed, point: point - (digits.length - trimmed.length) };
}

/** Round a digit string to n digits, half to even as strconv does; returns digits (length n, or n+1 on carry-out). */
function roundDigits(digits: string, n: number): { digits: string; carry: boolean } {
  if (n < 0) return { digits: '', carry: false };
  if (digits.length <= n) return { digits: digits.padEnd(n, '0'), carry: false };
  const keep = digits.slice(0, n);
  const rest = digits.slice(n);
  const first = rest[0]!;
  const up = first > '5' || (first === '5' && (/[1-9]/.test(rest.slice(1)) || (keep.length > 0 && Number(keep[keep.length - 1]) % 2 === 1)));
  if (!up) return { digits: keep, carry: false };
  if (keep === '') return { digits: '1', carry: true };
  const bumped = (BigInt(keep) + 1n).toString().padStart(n, '0');
  return bumped.length > n ? { digits: bumped, carry: true } : { digits: bumped, carry: false };
}

/** %.Nf with Go's exact half-to-even rounding (toFixed rounds halves up); -0.001 gives -0.00 as in Go. */
export function fixed(f: number, prec: number): string {
  const neg = f < 0 || Object.is(f, -0);
  const { digits, point } = exactDecimal(f);
  const n = point + prec; // digits of DIGITS left of the cut
  let q: string;
  if (digits === '0' || n < 0) q = '0';
  else if (n >= digits.length) q = digits.padEnd(n, '0');
  else q = roundDigits(digits, n).digits || '0';
  q = q.padStart(prec + 1, '0');
  const s = prec > 0 ? `${q.slice(0, q.length - prec)}.${q.slice(q.length - prec)}` : q;
  return neg ? `-${s}` : s;
}

/** %.Ne with Go's exact half-to-even rounding. */
export function exponent(f: number, prec: number): string {
  const neg = f < 0 || Object.is(f, -0);
  const { digits, point } = exactDecimal(f);
  if (digits === '0') return `${neg ? '-' : ''}0${prec > 0 ? `.${'0'.repeat(prec)}` : ''}e+00`;
  const r = roundDigits(digits, prec + 1);
  let d = r.digits;
  let exp = point - 1;
  if (d.length > prec + 1) {
    d = d.slice(0, prec + 1);
    exp++;
  }
  const mant = prec > 0 ? `${d[0]}.${d.slice(1)}` : d[0]!;
  return `${neg ? '-' : ''}${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

function expForm(s: string): string {
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

export function gWithPrecision(f: number, prec: number): string {
  const p = prec === 0 ? 1 : prec;
  const e = Number(f.toExponential(p - 1).split('e')[1]);
  if (e < -4 || e >= p) return expForm(f.toExponential(p - 1).replace(/\.?0+e/, 'e'));
  return f.toFixed(Math.max(0, p - 1 - e)).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}
