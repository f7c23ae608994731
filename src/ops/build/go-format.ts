/**
 * The few Go formatting rules docker's image history strings are made of (BuildKit writes
 * `created_by` with fmt.Sprintf): %q of a string slice, %v of a slice, Go durations, and
 * time.ParseDuration for HEALTHCHECK flags. Pure.
 */
import { goQuote } from './shell-lex.js';
import { LineError } from './errors.js';

export { goQuote };

/** fmt %q of []string: ["a" "b"]. */
export const goQuoteList = (xs: readonly string[]) => '[' + xs.map(goQuote).join(' ') + ']';

/** fmt %v of []string: [a b]. */
export const goList = (xs: readonly string[]) => '[' + xs.join(' ') + ']';

/** strconv.QuoteRune of a small int, as %q prints an int: '\x00', '\x03', 'A'. */
export function goQuoteRune(n: number): string {
  if (n === 0x27) return "'\\''";
  if (n === 0x5c) return "'\\\\'";
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' };
  if (named[n]) return `'${named[n]}'`;
  if (n < 0x20 || n === 0x7f) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return "'\\ufffd'";
  const q = goQuote(String.fromCodePoint(n));
  return "'" + q.slice(1, -1) + "'";
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, '\u00b5s': 1e3, '\u03bcs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** time.ParseDuration: "1h30m", "1.5s", "500ms", "0". Nanoseconds. */
export function parseGoDuration(s: string): number {
  const bad = () => new LineError(`time: invalid duration ${goQuote(s)}`);
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw bad();
  let total = 0;
  while (rest) {
    const m = /^(\d*)(?:\.(\d*))?/.exec(rest)!;
    if (!m[1] && !m[2]) throw bad();
    rest = rest.slice(m[0].length);
    const u = /^(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/.exec(rest);
    if (!u) throw new LineError(rest ? `time: unknown unit ${goQuote(rest.replace(/[\d.].*$/, ''))} in duration ${goQuote(s)}` : `time: missing unit in duration ${goQuote(s)}`);
    rest = rest.slice(u[0].length);
    total += Number(`${m[1] || '0'}.${m[2] || '0'}`) * UNIT_NS[u[1]!]!;
  }
  return sign * Math.round(total);
}

/** time.Duration.String: "0s", "1.5s", "500ms", "1m30s", "1h0m0s". */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    // below a second: the largest of ns, µs, ms that keeps an integer part
    const [div, unit] = u < 1e3 ? [1, 'ns'] : u < 1e6 ? [1e3, '\u00b5s'] : [1e6, 'ms'];
    out = trimFraction(u / div, div) + unit;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    const sec = trimFraction(u / 1e9, 1e9) + 's';
    out = h ? `${h}h${m}m${sec}` : m ? `${m}m${sec}` : sec;
  }
  return (neg ? '-' : '') + out;
}

/** A decimal with the digits Go would print (no trailing zeros, at most the unit's precision). */
function trimFraction(v: number, unitNs: number): string {
  const digits = Math.round(Math.log10(unitNs));
  const s = v.toFixed(digits);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}
