/**
 * `RUN --mount=type=cache,target=/root/.cache,…` parsed and checked as BuildKit's
 * instructions/commands_runmount.go: a CSV list of key=value fields (plus the bare words
 * ro/readonly/rw/readwrite/required); type bind (default) | cache | tmpfs | secret | ssh.
 * Values are expanded by the caller before this runs (they may hold build args). Pure.
 */
import { LineError } from './errors.js';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

export interface RunMount {
  type: MountType;
  /** Stage name, stage index or image to take a bind/cache source from. */
  from?: string;
  source?: string;
  target?: string;
  readOnly: boolean;
  /** cache id, or secret/ssh id. */
  id?: string;
  sharing?: CacheSharing;
  required: boolean;
  mode?: number;
  uid?: number;
  gid?: number;
  /** secret only: expose the secret as this environment variable. */
  env?: string;
  /** tmpfs only: size in bytes. */
  size?: number;
}

const TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING: readonly CacheSharing[] = ['shared', 'private', 'locked'];

/** Go's encoding/csv for one record: fields split on commas, "quoted, fields" allowed. */
function csvFields(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) throw new LineError(`failed to parse csv mounts: extraneous or missing " in quoted-field: ${s}`);
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += s[i++];
      }
      if (i < s.length && s[i] !== ',') throw new LineError(`failed to parse csv mounts: extraneous or missing " in quoted-field: ${s}`);
    } else {
      const j = s.indexOf(',', i);
      field = j < 0 ? s.slice(i) : s.slice(i, j);
      if (field.includes('"')) throw new LineError(`failed to parse csv mounts: bare " in non-quoted-field: ${s}`);
      i = j < 0 ? s.length : j;
    }
    out.push(field);
    if (i >= s.length) return out;
    i++; // the comma
  }
}

function uint(value: string, key: string, radix: number): number {
  const re = radix === 8 ? /^[0-7]+$/ : /^\d+$/;
  const n = re.test(value) ? parseInt(value, radix) : NaN;
  if (!Number.isFinite(n) || n > 0xffffffff) throw new LineError(`invalid value ${value} for ${key}`);
  return n;
}

function bool(value: string, key: string): boolean {
  // Go's strconv.ParseBool
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new LineError(`invalid value for ${key}: ${value}`);
}

/** Parse one --mount value; `expand` (the stage's word expander) is applied to each field's value. */
export function parseRunMount(value: string, expand: (v: string) => string = (v) => v): RunMount {
  const m: RunMount = { type: 'bind', readOnly: false, required: false };
  let roAuto = true;
  for (const field of csvFields(value)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') {
        m.readOnly = true;
        roAuto = false;
        continue;
      }
      if (key === 'readwrite' || key === 'rw') {
        m.readOnly = false;
        roAuto = false;
        continue;
      }
      if (key === 'required') {
        if (m.type !== 'secret' && m.type !== 'ssh') throw new LineError(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = true;
        continue;
      }
      throw new LineError(`invalid field '${field}' must be a key=value pair`);
    }
    const v = expand(field.slice(eq + 1));
    switch (key) {
      case 'type':
        if (!(TYPES as readonly string[]).includes(v.toLowerCase())) {
          throw new LineError(`unsupported mount type "${v}"`, `use one of ${TYPES.join(', ')}`);
        }
        m.type = v.toLowerCase() as MountType;
        break;
      case 'from':
        m.from = v;
        break;
      case 'source':
      case 'src':
        m.source = v;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = v;
        break;
      case 'readonly':
      case 'ro':
        m.readOnly = bool(v, key);
        roAuto = false;
        break;
      case 'readwrite':
      case 'rw':
        m.readOnly = !bool(v, key);
        roAuto = false;
        break;
      case 'required':
        if (m.type !== 'secret' && m.type !== 'ssh') throw new LineError(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = bool(v, key);
        break;
      case 'id':
        m.id = v;
        break;
      case 'sharing':
        if (!(SHARING as readonly string[]).includes(v.toLowerCase())) throw new LineError(`unsupported sharing value "${v}"`, `use one of ${SHARING.join(', ')}`);
        m.sharing = v.toLowerCase() as CacheSharing;
        break;
      case 'mode':
        m.mode = uint(v, 'mode', 8);
        break;
      case 'uid':
        m.uid = uint(v, 'uid', 10);
        break;
      case 'gid':
        m.gid = uint(v, 'gid', 10);
        break;
      case 'env':
        m.env = v;
        break;
      case 'size':
        m.size = parseSize(v);
        break;
      default:
        throw new LineError(`unexpected key '${key}' in '${field}'`, 'keys are type, from, source, target, readonly, id, sharing, required, mode, uid, gid, env, size');
    }
  }
  const fileInfo = m.type === 'secret' || m.type === 'ssh' || m.type === 'cache';
  for (const k of ['mode', 'uid', 'gid'] as const) {
    if (m[k] !== undefined && !fileInfo) throw new LineError(`${k} not allowed for "${m.type}" type mounts`);
  }
  if (roAuto) m.readOnly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.sharing && m.type !== 'cache') throw new LineError(`invalid cache sharing set for ${m.type} mount`);
  if (m.env !== undefined && m.type !== 'secret') throw new LineError(`env not allowed for "${m.type}" type mounts`);
  if (m.size !== undefined && m.type !== 'tmpfs') throw new LineError(`size not allowed for "${m.type}" type mounts`);
  if (m.type === 'secret') {
    if (m.from) throw new LineError('secret mount should not have a from');
    if (!m.source && !m.target && !m.id && !m.env) throw new LineError('invalid secret mount. one of source, target required');
    if (m.source && m.id) throw new LineError("both source and id can't be set");
  }
  if (m.type === 'ssh') {
    // BuildKit's dispatchSSH: the socket comes from the client, never from a path
    if (m.source) throw new LineError('ssh does not support source', 'leave out source=; give the socket with build --ssh');
    if (m.from) throw new LineError('ssh mount should not have a from');
    m.id ??= 'default';
  }
  if ((m.type === 'cache' || m.type === 'tmpfs' || m.type === 'bind') && !m.target) {
    throw new LineError(`${m.type} mount needs a target`, 'add target=/path');
  }
  return m;
}

/** tmpfs size=: bytes, or with a k/m/g suffix (docker's units.RAMInBytes). */
function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(v);
  if (!m) throw new LineError(`invalid size ${v}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}
