/**
 * docker's run/create flags → the host part of a container's config.
 * Pure parsing and validation: every bad value is a USAGE error before
 * anything is written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsrunError, usageError } from '../util/errors.js';
import type { Mount } from './record.js';
import { normaliseCap } from '../runtime/caps.js';
import { RLIMITS } from '../runtime/plan.js';
import type { HealthFlags } from './health.js';
import type { ResourceFlags } from '../runtime/resources.js';

export interface RunFlags {
  name?: string;
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  volume: string[];
  tmpfs: string[];
  readOnly: boolean;
  network: string;
  publish?: string[];
  publishAll?: boolean;
  ip?: string;
  /** --network-alias: more names on the container's first (user) network */
  networkAlias?: string[];
  addHost?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  entrypoint?: string;
  init: boolean;
  ulimit: string[];
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  tty: boolean;
  interactive: boolean;
  rm: boolean;
  detach: boolean;
  pull?: string;
  label: string[];
  device: string[];
  deviceCgroupRule: string[];
  /** --restart as given (restart-policy.ts parses it) */
  restart?: string;
  /** --health-* and --no-healthcheck, durations already parsed (health.ts) */
  health?: HealthFlags;
  /** -m, --cpus, --pids-limit … (runtime/resources.ts checks them) */
  resources?: ResourceFlags;
  oomScoreAdj?: string;
  shmSize?: string;
}

function cleanContainerPath(p: string, what: string): string {
  if (!p.startsWith('/')) throw usageError(`invalid ${what} ${JSON.stringify(p)}: the container path must be absolute`);
  if (p.includes('\0') || p.includes('\x1f')) throw usageError(`invalid ${what} ${JSON.stringify(p)}`);
  const clean = path.posix.normalize(p);
  if (clean === '/') throw usageError(`invalid ${what} ${JSON.stringify(p)}: cannot mount over /`);
  return clean.replace(/\/$/, '');
}

export function parseVolume(spec: string): Mount {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) throw usageError(`invalid volume ${JSON.stringify(spec)}`, 'use -v HOST_PATH:CONTAINER_PATH[:ro]');
  const [src, dst, mode] = parts as [string, string, string | undefined];
  if (!src.startsWith('/')) throw new TsrunError('UNSUPPORTED', `named volume ${JSON.stringify(src)} is not supported`, { hint: 'give an absolute host path' });
  if (mode !== undefined && !['ro', 'rw', 'z', 'Z'].includes(mode)) throw usageError(`invalid volume mode ${JSON.stringify(mode)} in ${spec}`, 'use ro or rw');
  if (src.includes('\x1f') || src.includes('\0')) throw usageError(`invalid volume ${JSON.stringify(spec)}`);
  return { type: 'bind', source: path.resolve(src), destination: cleanContainerPath(dst, 'volume'), readonly: mode === 'ro' };
}

export function parseTmpfs(spec: string): Mount {
  const i = spec.indexOf(':');
  const dst = i < 0 ? spec : spec.slice(0, i);
  const opts = i < 0 ? [] : spec.slice(i + 1).split(',').filter(Boolean);
  for (const o of opts) if (!/^[a-z_]+(=[A-Za-z0-9._%-]+)?$/.test(o)) throw usageError(`invalid tmpfs option ${JSON.stringify(o)}`);
  return { type: 'tmpfs', destination: cleanContainerPath(dst, 'tmpfs'), options: opts, readonly: opts.includes('ro') };
}

function limitValue(v: string, spec: string): number {
  if (v === '-1' || v === 'unlimited') return -1;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw usageError(`invalid ulimit ${JSON.stringify(spec)}`, 'use --ulimit name=soft[:hard]');
  return Number(v);
}

export function parseUlimit(spec: string): { name: string; soft: number; hard: number } {
  const m = /^([a-z]+)=([^:]+)(?::(.+))?$/.exec(spec);
  if (!m || RLIMITS[m[1]!] === undefined) throw usageError(`invalid ulimit ${JSON.stringify(spec)}`, `use --ulimit name=soft[:hard] with name one of ${Object.keys(RLIMITS).join(', ')}`);
  const soft = limitValue(m[2]!, spec);
  const hard = m[3] !== undefined ? limitValue(m[3], spec) : soft;
  if (hard !== -1 && (soft === -1 || soft > hard)) throw usageError(`invalid ulimit ${JSON.stringify(spec)}: soft limit above hard limit`);
  return { name: m[1]!, soft, hard };
}

/** --security-opt values → no_new_privs and the seccomp choice (a FILE is returned as an absolute host path). */
export function parseSecurityOpts(opts: string[]): { noNewPrivileges: boolean; seccomp: string } {
  let nnp = false;
  let seccomp = 'default';
  for (const o of opts) {
    const [k, v] = o.includes('=') ? [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)] : o.includes(':') ? [o.slice(0, o.indexOf(':')), o.slice(o.indexOf(':') + 1)] : [o, undefined];
    if (k === 'no-new-privileges') {
      if (v !== undefined && v !== 'true' && v !== 'false') throw usageError(`invalid --security-opt ${JSON.stringify(o)}`);
      nnp = v !== 'false';
    } else if (k === 'seccomp' && v) {
      seccomp = v === 'unconfined' ? 'unconfined' : path.resolve(v);
      if (seccomp !== 'unconfined' && !fs.existsSync(seccomp)) throw new TsrunError('NOT_FOUND', `seccomp profile ${v} not found`, { hint: 'give the path of a JSON profile' });
    } else throw new TsrunError('UNSUPPORTED', `unsupported --security-opt ${JSON.stringify(o)}`, { hint: 'tsrun supports no-new-privileges and seccomp=unconfined|FILE' });
  }
  return { noNewPrivileges: nnp, seccomp };
}

/** -e and --env-file: KEY=V, or bare KEY taken from tsrun's environment (dropped when unset, as docker). */
export function parseEnv(envFiles: string[], env: string[]): string[] {
  const out: string[] = [];
  const one = (e: string, where: string) => {
    if (e.includes('\0')) throw usageError(`invalid environment variable in ${where}`);
    const eq = e.indexOf('=');
    const key = eq < 0 ? e : e.slice(0, eq);
    if (!key || /\s/.test(key)) throw usageError(`invalid environment variable ${JSON.stringify(e)} in ${where}`);
    if (eq >= 0) out.push(e);
    else if (process.env[key] !== undefined) out.push(`${key}=${process.env[key]}`);
  };
  for (const f of envFiles) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch (err) {
      throw new TsrunError('NOT_FOUND', `cannot read env file ${f}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    for (const line of text.split(/\r?\n/)) {
      const l = line.replace(/^\s+/, '');
      if (!l || l.startsWith('#')) continue;
      one(l, f);
    }
  }
  for (const e of env) one(e, '-e');
  return out;
}

/** Merge env lists, later entries overriding earlier ones with the same key. */
export function mergeEnv(...lists: string[][]): string[] {
  const m = new Map<string, string>();
  for (const l of lists) for (const e of l) m.set(e.split('=', 1)[0]!, e);
  return [...m.values()];
}

export function validateCaps(caps: string[]): string[] {
  return caps.map(normaliseCap);
}
