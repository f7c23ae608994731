/**
 * Go's fmt for template values: %v printing (maps sorted, slices in brackets,
 * float64 in strconv's shortest 'g' form), Sprint/Sprintln's spacing, Sprintf's
 * verbs, flags, width and precision with fmt's %!verb(type=value) complaints,
 * and encoding/json (no HTML escaping) for docker's json function. The number
 * and string conversions underneath are strconv.ts's.
 */
import { GoStruct, isMethod, kindOf, sortedKeys, typeName } from './values.js';
import { exponent, fixed, formatFloatG, formatFloatV, goQuote, gWithPrecision } from './strconv.js';

/** fmt's %v. */
export function formatV(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
      return '<invalid reflect.Value>';
    case 'nil':
      return '<nil>';
    case 'float':
      return formatFloatV(v as number);
    case 'slice':
      return `[${(v as unknown[]).map(formatV).join(' ')}]`;
    case 'map':
      return `map[${sortedKeys(v as object)
        .map((k) => `${k}:${formatV((v as Record<string, unknown>)[k])}`)
        .join(' ')}]`;
    case 'struct':
      return `{${Object.values((v as GoStruct).fields)
        .filter((x) => !isMethod(x))
        .map(formatV)
        .join(' ')}}`;
    case 'method':
      return '<func>';
    default:
      return String(v);
  }
}

/** fmt.Sprint: a space between operands when neither side is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  let prevString = false;
  args.forEach((a, i) => {
    const isString = typeof a === 'string';
    if (i > 0 && !isString && !prevString) out += ' ';
    out += formatV(a);
    prevString = isString;
  });
  return out;
}

export const sprintln = (args: unknown[]): string => `${args.map(formatV).join(' ')}\n`;

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width?: number;
  prec?: number;
}

function pad(s: string, sp: Spec, numeric: boolean): string {
  const w = sp.width ?? 0;
  const len = [...s].length;
  if (len >= w) return s;
  if (sp.minus) return s + ' '.repeat(w - len);
  if (sp.zero && numeric) {
    const sign = /^[+\- ]/.test(s) ? s[0]! : '';
    return sign + '0'.repeat(w - len) + s.slice(sign.length);
  }
  return ' '.repeat(w - len) + s;
}

const badVerb = (verb: string, v: unknown): string => (v === null || v === undefined ? `%!${verb}(<nil>)` : `%!${verb}(${typeName(v)}=${formatV(v)})`);

function fmtInt(n: bigint, verb: string, sp: Spec): string {
  const neg = n < 0n;
  const abs = neg ? -n : n;
  let digits: string;
  switch (verb) {
    case 'd':
    case 'v':
      digits = abs.toString(10);
      break;
    case 'b':
      digits = abs.toString(2);
      break;
    case 'o':
      digits = abs.toString(8);
      if (sp.sharp) digits = `0${digits}`;
      break;
    case 'O':
      digits = `0o${abs.toString(8)}`;
      break;
    case 'x':
      digits = abs.toString(16);
      if (sp.sharp) digits = `0x${digits}`;
      break;
    case 'X':
      digits = abs.toString(16).toUpperCase();
      if (sp.sharp) digits = `0X${digits}`;
      break;
    case 'c':
      return pad(String.fromCodePoint(Number(n)), sp, false);
    case 'q':
      return pad(`'${goQuote(String.fromCodePoint(Number(n))).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`, sp, false);
    case 'U':
      return pad(`U+${abs.toString(16).toUpperCase().padStart(4, '0')}`, sp, false);
    default:
      return badVerb(verb, n);
  }
  if (sp.prec !== undefined) digits = digits.padStart(sp.prec, '0');
  const sign = neg ? '-' : sp.plus ? '+' : sp.space ? ' ' : '';
  return pad(sign + digits, sp.prec !== undefined ? { ...sp, zero: false } : sp, true);
}

function fmtFloat(f: number, verb: string, sp: Spec): string {
  let s: string;
  if (!Number.isFinite(f)) s = Number.isNaN(f) ? 'NaN' : f > 0 ? '+Inf' : '-Inf';
  else
    switch (verb) {
      case 'v':
      case 'g':
      case 'G':
        s = sp.prec === undefined ? formatFloatG(f) : gWithPrecision(f, sp.prec);
        if (verb === 'G') s = s.toUpperCase();
        break;
      case 'e':
      case 'E':
        s = exponent(f, sp.prec ?? 6);
        if (verb === 'E') s = s.toUpperCase();
        break;
      case 'f':
      case 'F':
        s = fixed(f, sp.prec ?? 6);
        break;
      default:
        return badVerb(verb, f);
    }
  if (!s.startsWith('-') && !s.startsWith('+')) s = (sp.plus ? '+' : sp.space ? ' ' : '') + s;
  return pad(s, sp, Number.isFinite(f));
}

function fmtString(s: string, verb: string, sp: Spec): string {
  switch (verb) {
    case 'v':
    case 's':
      return pad(sp.prec !== undefined ? [...s].slice(0, sp.prec).join('') : s, sp, false);
    case 'q':
      return pad(goQuote(s), sp, false);
    case 'x':
    case 'X': {
      const hex = Buffer.from(s).toString('hex');
      return pad(verb === 'X' ? hex.toUpperCase() : hex, sp, false);
    }
    default:
      return badVerb(verb, s);
  }
}

/** One operand under one verb, as fmt's printArg does. */
function fmtArg(v: unknown, verb: string, sp: Spec): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return verb === 'v' ? pad('<nil>', sp, false) : badVerb(verb, null);
    case 'bool':
      return verb === 't' || verb === 'v' ? pad(String(v), sp, false) : badVerb(verb, v);
    case 'int':
      return fmtInt(v as bigint, verb, sp);
    case 'float':
      return fmtFloat(v as number, verb, sp);
    case 'string':
      return fmtString(v as string, verb, sp);
    case 'slice':
      return `[${(v as unknown[]).map((x) => fmtArg(x, verb, sp)).join(' ')}]`;
    case 'map':
      return `map[${sortedKeys(v as object)
        .map((k) => `${fmtArg(k, verb, sp)}:${fmtArg((v as Record<string, unknown>)[k], verb, sp)}`)
        .join(' ')}]`;
    default:
      return verb === 'v' ? pad(formatV(v), sp, false) : badVerb(verb, v);
  }
}

/** fmt.Sprintf. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  let reordered = false;
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const sp: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false };
    for (; i < format.length; i++) {
      const c = format[i];
      if (c === '-') {
        sp.minus = true;
        sp.zero = false;
      } else if (c === '+') sp.plus = true;
      else if (c === '#') sp.sharp = true;
      else if (c === ' ') sp.space = true;
      else if (c === '0') sp.zero = !sp.minus;
      else break;
    }
    let goodArgNum = true;
    let afterIndex = false;
    // %[n]: an explicit argument index
    const argIndex = () => {
      if (format[i] !== '[') return;
      reordered = true;
      const m = /^\[(\d+)\]/.exec(format.slice(i));
      const close = format.indexOf(']', i);
      if (!m) {
        goodArgNum = false;
        i = close < 0 ? i + 1 : close + 1;
        return;
      }
      i += m[0].length;
      const n = Number(m[1]) - 1;
      if (n >= 0 && n < args.length) {
        argi = n;
        afterIndex = true;
      } else goodArgNum = false;
    };
    const num = () => {
      const m = /^\d+/.exec(format.slice(i));
      if (!m) return undefined;
      i += m[0].length;
      return Number(m[0]);
    };
    // %*d and %.*f take the width or precision from an int argument
    const starArg = (): number | undefined => {
      const a = argi < args.length ? args[argi] : undefined;
      if (argi < args.length) argi++;
      return typeof a === 'bigint' && a <= 1000000n && a >= -1000000n ? Number(a) : undefined;
    };
    argIndex();
    if (format[i] === '*') {
      i++;
      const w = starArg();
      if (w === undefined) out += '%!(BADWIDTH)';
      else if (w < 0) {
        sp.width = -w;
        sp.minus = true;
        sp.zero = false;
      } else sp.width = w;
      afterIndex = false;
    } else {
      sp.width = num();
      if (afterIndex && sp.width !== undefined) goodArgNum = false;
    }
    if (format[i] === '.') {
      i++;
      if (afterIndex) goodArgNum = false;
      argIndex();
      if (format[i] === '*') {
        i++;
        const p = starArg();
        if (p === undefined) out += '%!(BADPREC)';
        else if (p >= 0) sp.prec = p;
        afterIndex = false;
      } else {
        sp.prec = num() ?? 0;
      }
    }
    if (!afterIndex) argIndex();
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (!goodArgNum) {
      out += `%!${verb}(BADINDEX)`;
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    // %+v adds struct field names in Go (plusV), it is no sign flag
    if (verb === 'v') sp.plus = false;
    if (verb === 'T') {
      const a = args[argi++];
      out += pad(a === null || a === undefined ? '<nil>' : typeName(a), sp, false);
      continue;
    }
    out += fmtArg(args[argi++], verb, sp);
  }
  if (!reordered && argi < args.length) {
    out += `%!(EXTRA ${args
      .slice(argi)
      .map((a) => (a === null || a === undefined ? '<nil>' : `${typeName(a)}=${formatV(a)}`))
      .join(', ')})`;
  }
  return out;
}

/** encoding/json with SetEscapeHTML(false), as docker's json function; struct values marshal their zero-argument methods (docker's MarshalJSON). */
export function goJson(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
    case 'method':
      return 'null';
    case 'int':
      return (v as bigint).toString();
    case 'float':
      return Number.isFinite(v as number) ? JSON.stringify(v) : 'null';
    case 'string':
      return JSON.stringify(v).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
    case 'slice':
      return `[${(v as unknown[]).map(goJson).join(',')}]`;
    case 'struct': {
      const s = v as GoStruct;
      const flat: Record<string, unknown> = {};
      for (const [k, f] of Object.entries(s.fields)) {
        if (isMethod(f)) {
          if (f.params.length === 0) flat[k] = f.fn();
        } else flat[k] = f;
      }
      return goJson(flat);
    }
    case 'map':
      return `{${sortedKeys(v as object)
        .map((k) => `${goJson(k)}:${goJson((v as Record<string, unknown>)[k])}`)
        .join(',')}}`;
    default:
      return JSON.stringify(v);
  }
}
