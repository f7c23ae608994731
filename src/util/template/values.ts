/**
 * The Go values a template works on, modelled in JavaScript the way
 * encoding/json and docker's formatters hand them to text/template:
 *
 *   undefined        an invalid reflect.Value (a missing map key): prints "<no value>"
 *   null             a nil interface{}
 *   boolean, string  bool, string
 *   bigint           int (template integer constants, len, docker's typed counters)
 *   number           float64 (every JSON number decoded into interface{})
 *   Array            []interface{} ([]string when marked with stringSlice())
 *   plain object     map[string]interface{} (keys print sorted, as fmt and json do)
 *   GoStruct         a struct such as docker's *formatter.ContainerContext: fields and
 *                    methods by name; a missing field is an error, not "<no value>"
 */

/** A struct value: fields are values, or methods (functions) called with the template's arguments. */
export class GoStruct {
  constructor(
    /** Go's type name, for messages: "*formatter.ContainerContext". */
    readonly typeName: string,
    readonly fields: Record<string, unknown>,
  ) {}
}

/** A method of a GoStruct: its parameter types decide how template arguments convert. */
export interface GoMethod {
  params: ParamType[];
  fn: (...args: unknown[]) => unknown;
}

export type ParamType = 'any' | 'string' | 'int' | '[]string' | 'value';

export function method(params: ParamType[], fn: (...args: never[]) => unknown): GoMethod {
  return { params, fn: fn as (...args: unknown[]) => unknown };
}

export function isMethod(v: unknown): v is GoMethod {
  return typeof v === 'object' && v !== null && typeof (v as GoMethod).fn === 'function' && Array.isArray((v as GoMethod).params);
}

const STRING_SLICES = new WeakSet<object>();
/** Mark an array as a Go []string (strings.Split's result, docker's typed string lists). */
export function stringSlice(a: string[]): string[] {
  STRING_SLICES.add(a);
  return a;
}
export const isStringSlice = (v: unknown): boolean => Array.isArray(v) && STRING_SLICES.has(v);

const TYPED_MAPS = new WeakSet<object>();
/**
 * Mark an object as a typed Go map (map[string]string such as Labels): a missing
 * key reads as "<no value>" even where the template runs with missingkey=error,
 * as docker's inspect does (its typed pass succeeds on such maps).
 */
export function typedMap<T extends object>(o: T): T {
  TYPED_MAPS.add(o);
  return o;
}
export const isTypedMap = (v: object): boolean => TYPED_MAPS.has(v);

export type Kind = 'invalid' | 'nil' | 'bool' | 'string' | 'int' | 'float' | 'slice' | 'map' | 'struct' | 'method';

export function kindOf(v: unknown): Kind {
  if (v === undefined) return 'invalid';
  if (v === null) return 'nil';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'string':
      return 'string';
    case 'bigint':
      return 'int';
    case 'number':
      return 'float';
  }
  if (Array.isArray(v)) return 'slice';
  if (v instanceof GoStruct) return 'struct';
  if (isMethod(v)) return 'method';
  return 'map';
}

/** Go's name of the value's type, as messages print it. */
export function typeName(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return 'interface {}';
    case 'bool':
      return 'bool';
    case 'string':
      return 'string';
    case 'int':
      return 'int';
    case 'float':
      return 'float64';
    case 'slice':
      return isStringSlice(v) ? '[]string' : '[]interface {}';
    case 'struct':
      return (v as GoStruct).typeName;
    case 'method':
      return 'func';
    default:
      return isTypedMap(v as object) ? 'map[string]string' : 'map[string]interface {}';
  }
}

/** text/template's truth: empty strings, slices and maps, zero numbers, false and nil are false. */
export function isTrue(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return false;
    case 'bool':
      return v as boolean;
    case 'string':
      return (v as string).length > 0;
    case 'int':
      return (v as bigint) !== 0n;
    case 'float':
      return (v as number) !== 0;
    case 'slice':
      return (v as unknown[]).length > 0;
    case 'map':
      return Object.keys(v as object).length > 0;
    default:
      return true;
  }
}

/** Map keys in fmt's and encoding/json's order (byte order of the UTF-8 keys). */
export function sortedKeys(o: object): string[] {
  return Object.keys(o).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Byte length of a string as Go's len() counts it. */
export const byteLength = (s: string): number => Buffer.byteLength(s);

/**
 * Deep-convert data decoded from JSON for a template: integral numbers become
 * Go ints (docker's typed structs hold int64s, so {{.State.Pid}} prints 1234,
 * never 1.234e+03), arrays of strings become []string, and the objects under
 * the named keys (or every object below the top one) become typed maps.
 */
export function goTyped(v: unknown, typedMapKeys: ReadonlySet<string> = new Set(), typedBelowTop = false, depth = 0): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) {
    const a = v.map((x) => goTyped(x, typedMapKeys, typedBelowTop, depth + 1));
    return a.length > 0 && a.every((x) => typeof x === 'string') ? stringSlice(a as string[]) : a;
  }
  if (v && typeof v === 'object' && !(v instanceof GoStruct)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const t = goTyped(x, typedMapKeys, typedBelowTop, depth + 1);
      out[k] = typedMapKeys.has(k) && t && typeof t === 'object' && !Array.isArray(t) ? typedMap(t) : t;
    }
    return typedBelowTop && depth > 0 ? typedMap(out) : out;
  }
  return v;
}
