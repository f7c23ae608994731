/**
 * The functions a template can call: text/template's builtins (and, or, not,
 * len, index, slice, print, printf, println, eq, ne, lt, le, gt, ge, html,
 * urlquery) and docker's additions (json, split, join, title, lower, upper,
 * pad, truncate; docker/cli's templates package), with Go's errors.
 */
import type { TemplateFunc } from './exec.js';
import { formatV, goJson, sprint, sprintf, sprintln } from './fmt.js';
import { byteLength, isMethod, isTrue, kindOf, stringSlice, typeName } from './values.js';

const fail = (msg: string): never => {
  throw new Error(msg);
};

type Basic = 'bool' | 'int' | 'float' | 'string';

/** Go's basicKind: comparisons work only on these. */
function basicKind(v: unknown): Basic | undefined {
  const k = kindOf(v);
  return k === 'bool' || k === 'int' || k === 'float' || k === 'string' ? k : undefined;
}
/** A nil interface{} argument is dug out to an invalid value (indirectInterface). */
const unwrap = (v: unknown): unknown => (v === null ? undefined : v);

function eq(a0: unknown, ...rest: unknown[]): boolean {
  const a = unwrap(a0);
  if (rest.length === 0) fail('missing argument for comparison');
  const k1 = basicKind(a);
  for (const b0 of rest) {
    const b = unwrap(b0);
    const k2 = basicKind(b);
    let truth: boolean;
    if (k1 !== k2) {
      if (a !== undefined && b !== undefined) fail('incompatible types for comparison');
      truth = false;
    } else if (k1 === undefined) {
      if (a === undefined || b === undefined) truth = a === b;
      else return fail(`non-comparable type ${formatV(b)}: ${typeName(b)}`);
    } else {
      truth = a === b;
    }
    if (truth) return true;
  }
  return false;
}

function lt(a0: unknown, b0: unknown): boolean {
  const a = unwrap(a0);
  const b = unwrap(b0);
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (!k1 || !k2) return fail('invalid type for comparison');
  if (k1 !== k2) return fail('incompatible types for comparison');
  if (k1 === 'bool') return fail('invalid type for comparison');
  return (a as number) < (b as number);
}

function indexArg(i: unknown, cap: number): number {
  const v = unwrap(i);
  if (typeof v !== 'bigint') return fail(v === undefined ? 'cannot index slice/array with nil' : `cannot index slice/array with type ${typeName(v)}`);
  if (v < 0n || v > BigInt(cap)) fail(`index out of range: ${v}`);
  return Number(v);
}

function index(item0: unknown, ...indexes: unknown[]): unknown {
  let item = unwrap(item0);
  if (item === undefined) return fail('index of untyped nil');
  for (const ix of indexes) {
    if (item === null || item === undefined) return fail('index of nil pointer');
    const k = kindOf(item);
    if (k === 'slice' || k === 'string') {
      const len = k === 'string' ? byteLength(item as string) : (item as unknown[]).length;
      const x = indexArg(ix, len);
      if (x === len) fail(`index out of range: ${x}`);
      item = k === 'string' ? BigInt(Buffer.from(item as string)[x]!) : (item as unknown[])[x];
    } else if (k === 'map') {
      const key = unwrap(ix);
      if (typeof key !== 'string') return fail(key === undefined ? 'value is nil; should be of type string' : `value has type ${typeName(key)}; should be string`);
      const o = item as Record<string, unknown>;
      item = Object.hasOwn(o, key) ? o[key] : null;
    } else {
      return fail(`can't index item of type ${typeName(item)}`);
    }
  }
  return item;
}

function slice(item0: unknown, ...indexes: unknown[]): unknown {
  const item = unwrap(item0);
  if (item === undefined) return fail('slice of untyped nil');
  if (indexes.length > 3) fail(`too many slice indexes: ${indexes.length}`);
  const k = kindOf(item);
  let len: number;
  if (k === 'string') {
    if (indexes.length === 3) fail('cannot 3-index slice a string');
    len = byteLength(item as string);
  } else if (k === 'slice') len = (item as unknown[]).length;
  else return fail(`can't slice item of type ${typeName(item)}`);
  const idx = [0, len, len];
  indexes.forEach((x, i) => (idx[i] = indexArg(x, len)));
  if (idx[0]! > idx[1]!) fail(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1]! > idx[2]!) fail(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (k === 'string') return Buffer.from(item as string).subarray(idx[0], idx[1]).toString();
  const out = (item as unknown[]).slice(idx[0], idx[1]);
  return kindOf(item) === 'slice' && (item as unknown[]).every((x) => typeof x === 'string') ? stringSlice(out as string[]) : out;
}

function length(v: unknown): bigint {
  if (v === null) return fail('len of nil pointer');
  switch (kindOf(v)) {
    case 'string':
      return BigInt(byteLength(v as string));
    case 'slice':
      return BigInt((v as unknown[]).length);
    case 'map':
      return BigInt(Object.keys(v as object).length);
    default:
      return fail(`len of type ${v === undefined ? '<invalid reflect.Value>' : typeName(v)}`);
  }
}

/** Per code point, as Go's unicode.ToUpper/ToLower (no "ß" → "SS"). */
const mapCase = (s: string, f: (c: string) => string): string =>
  [...s]
    .map((c) => {
      const m = f(c);
      return [...m].length === 1 ? m : c;
    })
    .join('');

/** strings.Title: the first letter of each word upper-cased; words split at anything but letters, digits, '_' and '\''. */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const c of s) {
    const sep = c < '\x80' ? !/[A-Za-z0-9_]/.test(c) : /\s/u.test(c);
    const prevSep = prev < '\x80' ? !/[A-Za-z0-9_]/.test(prev) : /\s/u.test(prev);
    out += prevSep ? mapCase(c, (x) => x.toUpperCase()) : c;
    prev = sep ? ' ' : c;
  }
  return out;
}

function split(s: string, sep: string): string[] {
  if (sep === '') return stringSlice([...s]);
  return stringSlice(s.split(sep));
}

function htmlEscape(args: unknown[]): string {
  const s = args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args);
  return s.replace(/[\0"'&<>]/g, (c) => ({ '\0': '\uFFFD', '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

/** text/template's JSEscapeString. */
function jsEscape(args: unknown[]): string {
  const s = args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args);
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === '<' || ch === '>' || ch === '&' || ch === '=' || c < 0x20) out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
    else if (c < 0x80 || /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) out += ch;
    else out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return out;
}

function urlquery(args: unknown[]): string {
  const s = args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args);
  return encodeURIComponent(s)
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/~/g, '~');
}

export const BUILTINS: Record<string, TemplateFunc> = {
  and: { params: ['value'], variadic: 'value', fn: () => undefined /* short-circuit in exec.ts */ },
  or: { params: ['value'], variadic: 'value', fn: () => undefined },
  not: { params: ['value'], fn: (v) => !isTrue(v) },
  len: { params: ['value'], fn: length },
  index: { params: ['value'], variadic: 'value', fn: index },
  slice: { params: ['value'], variadic: 'value', fn: slice },
  print: { params: [], variadic: 'any', fn: (...a) => sprint(a) },
  printf: { params: ['string'], variadic: 'any', fn: (f, ...a) => sprintf(f as string, a) },
  println: { params: [], variadic: 'any', fn: (...a) => sprintln(a) },
  html: { params: [], variadic: 'any', fn: (...a) => htmlEscape(a) },
  js: { params: [], variadic: 'any', fn: (...a) => jsEscape(a) },
  call: {
    params: ['value'],
    variadic: 'value',
    fn: (f, ...args) => {
      const fn = unwrap(f);
      if (fn === undefined) return fail('call of nil');
      if (!isMethod(fn)) return fail(`non-function of type ${typeName(fn)}`);
      if (args.length !== fn.params.length) return fail(`wrong number of args: got ${args.length} want ${fn.params.length}`);
      return fn.fn(...args);
    },
  },
  urlquery: { params: [], variadic: 'any', fn: (...a) => urlquery(a) },
  eq: { params: ['value'], variadic: 'value', fn: eq },
  ne: { params: ['value', 'value'], fn: (a, b) => !eq(a, b) },
  lt: { params: ['value', 'value'], fn: lt },
  le: { params: ['value', 'value'], fn: (a, b) => lt(a, b) || eq(a, b) },
  gt: { params: ['value', 'value'], fn: (a, b) => !(lt(a, b) || eq(a, b)) },
  ge: { params: ['value', 'value'], fn: (a, b) => !lt(a, b) },
};

/** docker/cli's templates.basicFunctions. */
export const DOCKER_FUNCS: Record<string, TemplateFunc> = {
  json: { params: ['any'], fn: goJson },
  split: { params: ['string', 'string'], fn: (s, sep) => split(s as string, sep as string) },
  join: { params: ['[]string', 'string'], fn: (a, sep) => (a as string[]).join(sep as string) },
  title: { params: ['string'], fn: (s) => title(s as string) },
  lower: { params: ['string'], fn: (s) => mapCase(s as string, (c) => c.toLowerCase()) },
  upper: { params: ['string'], fn: (s) => mapCase(s as string, (c) => c.toUpperCase()) },
  pad: { params: ['string', 'int', 'int'], fn: (s, p, q) => (s === '' ? '' : ' '.repeat(repeatCount(p)) + s + ' '.repeat(repeatCount(q))) },
  truncate: {
    params: ['string', 'int'],
    fn: (s, n) => {
      const b = Buffer.from(s as string);
      const len = Number(n as bigint);
      if (b.length < len) return s;
      if (len < 0) fail(`runtime error: slice bounds out of range [:${len}]`);
      return b.subarray(0, len).toString();
    },
  },
};

function repeatCount(n: unknown): number {
  const c = Number(n as bigint);
  if (c < 0) fail('strings: negative Repeat count');
  return c;
}

/** docker's HeaderFunctions: in a table's header row these return their first argument untouched. */
export const DOCKER_HEADER_FUNCS: Record<string, TemplateFunc> = {
  json: { params: ['string'], fn: (v) => v },
  split: { params: ['string', 'string'], fn: (v) => v },
  join: { params: ['string', 'string'], fn: (v) => v },
  title: { params: ['string'], fn: (v) => v },
  lower: { params: ['string'], fn: (v) => v },
  upper: { params: ['string'], fn: (v) => v },
  truncate: { params: ['string', 'int'], fn: (v) => v },
};
