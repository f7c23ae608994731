/**
 * docker's mount flags → typed mount requests, checked before anything is
 * written (pure: no store, no file is touched; relative bind sources are made
 * absolute against the working directory, as docker's CLI does).
 *
 *   -v SRC:DST[:MODE]   SRC an absolute or ./relative host path (bind) or a volume name
 *   -v DST[:MODE]       an anonymous volume
 *   --mount type=bind|volume|tmpfs,source=…,target=…,readonly,…   docker's CSV form
 *   --tmpfs DST[:OPTS]
 *
 * MODE is a comma list of ro|rw, z|Z, one propagation (shared, slave, private
 * and their r- forms) and nocopy (volumes only), as docker's linux parser.
 */
import path from 'node:path';
import { usageError } from '../util/errors.js';

/** The local driver's options (docker's `volume create -o`). */
const DRIVER_OPTS = new Set(['type', 'device', 'o', 'size']);

/** docker's local driver names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two characters at least). */
export function validVolumeName(name: string): boolean {
  return /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name) && name.length <= 255;
}

export function checkVolumeName(name: string): void {
  if (!validVolumeName(name)) {
    throw usageError(
      `create ${name}: ${JSON.stringify(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/** -o / volume-opt values checked as docker's local driver checks them. */
export function checkDriverOptions(opts: Record<string, string>): void {
  for (const k of Object.keys(opts)) {
    if (!DRIVER_OPTS.has(k)) throw usageError(`invalid option key: ${JSON.stringify(k)}`, 'the local driver takes type, device and o');
  }
  if ((opts.type || opts.device) && !(opts.type && opts.device)) {
    throw usageError('missing required option: "type" and "device" go together', 'e.g. -o type=tmpfs -o device=tmpfs -o o=size=64m');
  }
  const bind = (opts.o ?? '').split(',').includes('bind');
  if (bind && opts.device && !path.isAbsolute(opts.device)) throw usageError(`invalid bind device ${JSON.stringify(opts.device)}: it must be an absolute host path`);
}

export const PROPAGATIONS = ['shared', 'slave', 'private', 'rshared', 'rslave', 'rprivate'] as const;
export type Propagation = (typeof PROPAGATIONS)[number];

/** What a flag asks for; containers/volumes.ts turns it into a Mount (a volume name, made or found). */
export interface MountRequest {
  type: 'bind' | 'volume' | 'tmpfs';
  /** bind: absolute host path; volume: its name, absent for an anonymous one */
  source?: string;
  destination: string;
  readonly: boolean;
  /** -v's MODE as given ("ro,z"): docker's MountPoint.Mode */
  mode: string;
  propagation?: Propagation;
  /** volume: do not copy the image's content into it */
  noCopy?: boolean;
  /** tmpfs: mount options (size=…, mode=…) */
  options?: string[];
  /** --mount type=volume: labels and driver options for a volume it creates */
  volumeLabels?: Record<string, string>;
  volumeOptions?: Record<string, string>;
  /** -v with a missing host path creates it (docker); --mount refuses it */
  createSource?: boolean;
  /** the flag it came from, for HostConfig.Binds */
  spec?: string;
  from: '-v' | '--mount' | '--tmpfs';
}

export function cleanContainerPath(p: string, spec: string, flag = 'volume'): string {
  if (!p.startsWith('/')) throw usageError(`invalid ${flag} specification: '${spec}': invalid mount config: the mount destination ${JSON.stringify(p)} is not an absolute path`);
  if (p.includes('\0') || p.includes('\x1f')) throw usageError(`invalid ${flag} specification: '${spec}'`);
  const clean = path.posix.normalize(p);
  if (clean === '/') throw usageError(`invalid ${flag} specification: '${spec}': invalid mount config: destination can't be '/' (cannot mount over /)`);
  return clean.replace(/\/$/, '');
}

interface Mode {
  readonly: boolean;
  propagation?: Propagation;
  noCopy: boolean;
}

/** docker's ValidMountMode: each kind at most once. */
function parseMode(mode: string, spec: string): Mode {
  const out: Mode = { readonly: false, noCopy: false };
  const seen = new Set<string>();
  for (const o of mode.split(',')) {
    const kind = o === 'ro' || o === 'rw' ? 'rw' : o === 'z' || o === 'Z' ? 'label' : (PROPAGATIONS as readonly string[]).includes(o) ? 'prop' : o === 'nocopy' ? 'copy' : undefined;
    if (!kind || seen.has(kind)) throw usageError(`invalid mode: ${mode}`, `in -v ${spec}: combine ro|rw, z|Z, one of ${PROPAGATIONS.join('|')}, nocopy with commas`);
    seen.add(kind);
    if (o === 'ro') out.readonly = true;
    if (kind === 'prop') out.propagation = o as Propagation;
    if (o === 'nocopy') out.noCopy = true;
  }
  return out;
}

const isModeString = (s: string) => s.split(',').every((o) => ['ro', 'rw', 'z', 'Z', 'nocopy', ...PROPAGATIONS].includes(o));

/** docker 23+: `.`, `..`, `./x` and `../x` are host paths relative to the working directory. */
function isRelativePath(s: string): boolean {
  return s === '.' || s === '..' || s.startsWith('./') || s.startsWith('../');
}

export function parseVolumeFlag(spec: string, cwd = process.cwd()): MountRequest {
  if (spec.includes('\0') || spec.includes('\x1f')) throw usageError(`invalid volume specification: '${spec}'`);
  const parts = spec.split(':');
  let src: string | undefined;
  let dst: string;
  let mode = '';
  if (parts.length === 1) dst = parts[0]!;
  else if (parts.length === 2 && isModeString(parts[1]!) && parts[1] !== '') [dst, mode] = parts as [string, string];
  else if (parts.length === 2) [src, dst] = parts as [string, string];
  else if (parts.length === 3) [src, dst, mode] = parts as [string, string, string];
  else throw usageError(`invalid volume specification: '${spec}'`, 'use -v [SOURCE:]CONTAINER_PATH[:MODE]');
  if (src === '') throw usageError(`invalid volume specification: '${spec}'`, 'use -v [SOURCE:]CONTAINER_PATH[:MODE]');
  const m = mode === '' ? { readonly: false, noCopy: false } : parseMode(mode, spec);
  const destination = cleanContainerPath(dst, spec);
  const base = { destination, readonly: m.readonly, mode, ...(m.propagation ? { propagation: m.propagation } : {}), spec, from: '-v' as const };
  if (src === undefined) {
    if (m.propagation) throw usageError(`invalid volume specification: '${spec}': propagation mode is only valid for bind mounts`);
    return { type: 'volume', ...base, ...(m.noCopy ? { noCopy: true } : {}) };
  }
  if (src.startsWith('/') || isRelativePath(src)) {
    if (m.noCopy) throw usageError(`invalid volume specification: '${spec}': nocopy is only valid for volumes`);
    return { type: 'bind', source: path.resolve(cwd, src), createSource: true, ...base };
  }
  checkVolumeName(src);
  if (m.propagation) throw usageError(`invalid volume specification: '${spec}': propagation mode is only valid for bind mounts`);
  return { type: 'volume', source: src, ...base, ...(m.noCopy ? { noCopy: true } : {}) };
}

export function parseTmpfsFlag(spec: string): MountRequest {
  const i = spec.indexOf(':');
  const dst = i < 0 ? spec : spec.slice(0, i);
  const opts = i < 0 ? [] : spec.slice(i + 1).split(',').filter(Boolean);
  for (const o of opts) if (!/^[a-z_]+(=[A-Za-z0-9._%-]+)?$/.test(o)) throw usageError(`invalid tmpfs option ${JSON.stringify(o)}`);
  return { type: 'tmpfs', destination: cleanContainerPath(dst, spec, 'tmpfs'), options: opts, readonly: opts.includes('ro'), mode: '', from: '--tmpfs' };
}

/** encoding/csv's reading of one line: fields split on commas, "double quoted" fields may hold commas and "" quotes. */
export function splitCsv(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new Error('extraneous or missing " in quoted-field');
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw new Error(`extraneous or missing " in quoted-field`);
    } else {
      const j = line.indexOf(',', i);
      field = line.slice(i, j < 0 ? line.length : j);
      if (field.includes('"')) throw new Error('bare " in non-quoted-field');
      i = j < 0 ? line.length : j;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++; // the comma
  }
}

/** Go's strconv.ParseBool. */
function parseBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** docker's units.RAMInBytes: 64m, 1.5g, 512k, 1024 (binary multiples). */
export function ramInBytes(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(v);
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2]!.toLowerCase() as '' | 'k']!;
  const n = Math.floor(Number(m[1]) * mult);
  return Number.isSafeInteger(n) ? n : undefined;
}

const BARE_BOOLS = new Set(['readonly', 'ro', 'volume-nocopy', 'bind-nonrecursive']);

/** `--mount` as docker's CLI reads it (cli/opts/mount.go), then the daemon's checks of each type. */
export function parseMountFlag(value: string, cwd = process.cwd()): MountRequest {
  const bad = (msg: string) => usageError(`invalid argument ${JSON.stringify(value)} for "--mount" flag: ${msg}`);
  let fields: string[];
  try {
    fields = splitCsv(value);
  } catch (e) {
    throw bad((e as Error).message);
  }
  let type = 'volume';
  let source: string | undefined;
  let target: string | undefined;
  let readonly = false;
  let propagation: Propagation | undefined;
  let noCopy = false;
  let tmpfsSize: number | undefined;
  let tmpfsMode: number | undefined;
  const labels: Record<string, string> = {};
  const volumeOpts: Record<string, string> = {};
  const seenPrefixes = new Set<string>();
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq < 0 ? undefined : field.slice(eq + 1);
    if (val === undefined && !BARE_BOOLS.has(key)) throw bad(`invalid field '${field}' must be a key=value pair`);
    const bool = () => {
      if (val === undefined) return true;
      const b = parseBool(val);
      if (b === undefined) throw bad(`invalid value for ${key}: ${val}`);
      return b;
    };
    const kv = (what: string) => {
      const i = val!.indexOf('=');
      if (i <= 0) throw bad(`invalid value for ${what}: ${val}`);
      return [val!.slice(0, i), val!.slice(i + 1)] as const;
    };
    for (const p of ['bind-', 'volume-', 'tmpfs-']) if (key.startsWith(p)) seenPrefixes.add(p.slice(0, -1));
    switch (key) {
      case 'type':
        type = val!.toLowerCase();
        break;
      case 'source':
      case 'src':
        source = val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        target = val;
        break;
      case 'readonly':
      case 'ro':
        readonly = bool();
        break;
      case 'consistency':
        break; // macOS only in docker; ignored on Linux
      case 'bind-propagation':
        if (!(PROPAGATIONS as readonly string[]).includes(val!.toLowerCase())) throw bad(`invalid value for ${key}: ${val}`);
        propagation = val!.toLowerCase() as Propagation;
        break;
      case 'bind-nonrecursive':
        if (bool()) throw bad('bind-nonrecursive is not supported by tsrun (binds are always recursive)');
        break;
      case 'volume-nocopy':
        noCopy = bool();
        break;
      case 'volume-label': {
        const [k, v] = kv(key);
        labels[k] = v;
        break;
      }
      case 'volume-driver':
        if (val !== 'local') throw bad(`volume driver ${JSON.stringify(val)} is not supported by tsrun`);
        break;
      case 'volume-opt': {
        const [k, v] = kv(key);
        volumeOpts[k] = v;
        break;
      }
      case 'tmpfs-size': {
        const n = ramInBytes(val!);
        if (n === undefined) throw bad(`invalid value for ${key}: ${val}`);
        tmpfsSize = n;
        break;
      }
      case 'tmpfs-mode': {
        if (!/^[0-7]+$/.test(val!) || parseInt(val!, 8) > 0o7777) throw bad(`invalid value for ${key}: ${val}`);
        tmpfsMode = parseInt(val!, 8);
        break;
      }
      default:
        throw bad(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!['bind', 'volume', 'tmpfs'].includes(type)) throw usageError(`invalid mount config for type ${JSON.stringify(type)}: mount type unknown`, 'use type=bind, volume or tmpfs');
  if (!target) throw bad('target is required');
  for (const p of seenPrefixes) if (p !== type) throw bad(`cannot mix '${p}-*' options with mount type '${type}'`);
  const destination = cleanContainerPath(target, value, 'mount');
  const base = { destination, readonly, mode: '', from: '--mount' as const };
  if (type === 'tmpfs') {
    if (source) throw usageError(`invalid mount config for type "tmpfs": field Source must not be specified`);
    const options = [...(tmpfsSize !== undefined ? [`size=${tmpfsSize}`] : []), ...(tmpfsMode !== undefined ? [`mode=${tmpfsMode.toString(8).padStart(4, '0')}`] : [])];
    return { type: 'tmpfs', ...base, options };
  }
  if (type === 'bind') {
    if (!source) throw usageError(`invalid mount config for type "bind": field Source must not be empty`);
    if (source.includes('\0') || source.includes('\x1f')) throw bad('invalid source');
    return { type: 'bind', source: path.resolve(cwd, source), ...base, propagation: propagation ?? 'rprivate' };
  }
  if (source) checkVolumeName(source);
  checkDriverOptions(volumeOpts);
  return {
    type: 'volume',
    ...(source ? { source } : {}),
    ...base,
    ...(noCopy ? { noCopy } : {}),
    ...(Object.keys(labels).length ? { volumeLabels: labels } : {}),
    ...(Object.keys(volumeOpts).length ? { volumeOptions: volumeOpts } : {}),
  };
}

/** --volumes-from CTR[:ro|rw] → the container reference and the mode. */
export function parseVolumesFrom(spec: string): { ref: string; mode?: 'ro' | 'rw' } {
  const i = spec.lastIndexOf(':');
  if (i < 0) return { ref: spec };
  const mode = spec.slice(i + 1);
  if (mode !== 'ro' && mode !== 'rw') throw usageError(`invalid mode: ${mode}`, 'use --volumes-from CONTAINER[:ro|rw]');
  return { ref: spec.slice(0, i), mode };
}

/**
 * All flags at once, as docker's registerMountPoints orders them: a
 * destination named twice by -v/--mount/--tmpfs is an error.
 */
export function parseMountFlags(f: { volume: string[]; mount?: string[]; tmpfs: string[] }, cwd = process.cwd()): MountRequest[] {
  const reqs = [...f.volume.map((v) => parseVolumeFlag(v, cwd)), ...(f.mount ?? []).map((m) => parseMountFlag(m, cwd)), ...f.tmpfs.map(parseTmpfsFlag)];
  const seen = new Set<string>();
  for (const r of reqs) {
    if (seen.has(r.destination)) throw usageError(`Duplicate mount point: ${r.destination}`);
    seen.add(r.destination);
  }
  return reqs;
}
