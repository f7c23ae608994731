/**
 * docker's run/create flags → the host part of a container's config.
 * Pure parsing and validation: every bad value is a USAGE error before
 * anything is written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsrunError, usageError } from '../util/errors.js';
import { normaliseCap } from '../runtime/caps.js';
import { RLIMITS } from '../runtime/spec/process.js';
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
  /** --mount, docker's CSV form */
  mount?: string[];
  tmpfs: string[];
  /** --volumes-from CTR[:ro|rw] */
  volumesFrom?: string[];
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
  /** --platform as given (os/arch[/variant]) */
  platform?: string;
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

function limitValue(v: string, spec: string): number {
  if (v === '-1' || v === 'unlimited') return -1;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw usageError(`invalid ulimit ${JSON.stringify(spec)}`, 'use --ulimit name=soft[:hard]');
  return Number(v);
}

export function parseUlimit(spec: string): { name: string; soft: number; hard: number } {
  const m = /^([a-z]+)=([^:]+)(?::(.+))?$/.exec(spec);
  if (!m || !(RLIMITS as readonly string[]).includes(m[1]!)) throw usageError(`invalid ulimit ${JSON.stringify(spec)}`, `use --ulimit name=soft[:hard] with name one of ${RLIMITS.join(', ')}`);
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
