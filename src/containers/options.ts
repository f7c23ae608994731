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
  /** --sysctl K=V, as given */
  sysctl?: string[];
  /** --userns host|ns:PATH, --uidmap/--gidmap CONTAINER:HOST:SIZE, as given */
  userns?: string;
  uidmap?: string[];
  gidmap?: string[];
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

/**
 * --sysctl K=V (repeatable), docker's rules: only namespaced sysctls (docker's CLI list: the IPC
 * ones and net.*, fs.mqueue.*), net.* only with a network namespace of the container's own.
 */
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

export function parseSysctls(values: string[], network: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const key = eq < 0 ? v : v.slice(0, eq);
    if (eq <= 0 || !(IPC_SYSCTLS.has(key) || key.startsWith('net.') || key.startsWith('fs.mqueue.'))) {
      throw usageError(`invalid argument ${JSON.stringify(v)} for "--sysctl" flag: sysctl '${v}' is not allowed`, 'only namespaced sysctls: net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*');
    }
    // runc's check (docker reports it at start; tsrun before anything is written)
    if (key.startsWith('net.') && network === 'host') throw usageError(`sysctl ${JSON.stringify(key)} not allowed in host network namespace`);
    if (!/^[a-z0-9_.-]+$/i.test(key) || key.includes('..')) throw usageError(`invalid argument ${JSON.stringify(v)} for "--sysctl" flag: invalid sysctl name`);
    out[key] = v.slice(eq + 1);
  }
  return out;
}

export interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

/** --uidmap/--gidmap CONTAINER:HOST:SIZE (podman's), repeatable. */
function parseIdMaps(values: string[], flag: string): IdMap[] {
  const maps = values.map((v) => {
    const m = /^(\d+):(\d+):(\d+)$/.exec(v);
    const n = m ? m.slice(1).map(Number) : [];
    if (!m || n.some((x) => x > 0xffffffff) || n[2] === 0 || n[0]! + n[2]! > 0x100000000 || n[1]! + n[2]! > 0x100000000) {
      throw usageError(`invalid ${flag} ${JSON.stringify(v)}`, `use ${flag} CONTAINER:HOST:SIZE with a size above 0, e.g. 0:100000:65536`);
    }
    return { containerID: n[0]!, hostID: n[1]!, size: n[2]! };
  });
  // the launcher becomes root in the namespace before it drops to the container's user
  if (!maps.some((x) => x.containerID === 0)) throw usageError(`invalid ${flag}: container ID 0 is not mapped`, 'map container ID 0, e.g. 0:100000:65536');
  return maps;
}

/**
 * --userns host|ns:PATH (docker takes host; podman's ns:PATH joins a user namespace) and
 * --uidmap/--gidmap (a new user namespace with those maps; --gidmap defaults to --uidmap's, as podman).
 */
export function parseUserns(userns: string | undefined, uidmap: string[], gidmap: string[], f: { privileged: boolean; network: string }): { mode: string; uidMaps?: IdMap[]; gidMaps?: IdMap[] } {
  if (userns !== undefined && userns !== '' && userns !== 'host' && !(userns.startsWith('ns:') && userns.length > 3)) {
    throw usageError('--userns: invalid USER mode', 'use --userns host, or ns:PATH to join a user namespace');
  }
  if (uidmap.length || gidmap.length) {
    if (userns) throw usageError('conflicting options: --userns and --uidmap/--gidmap', 'give one of them');
    const uidMaps = parseIdMaps(uidmap.length ? uidmap : gidmap, uidmap.length ? '--uidmap' : '--gidmap');
    const gidMaps = gidmap.length ? parseIdMaps(gidmap, '--gidmap') : uidMaps;
    return { mode: 'private', uidMaps, gidMaps, ...checkUsernsConflicts(f) };
  }
  if (userns?.startsWith('ns:')) {
    const p = userns.slice(3);
    if (!path.isAbsolute(p)) throw usageError(`--userns: user namespace ${p} does not exist`, 'give a path such as /proc/PID/ns/user');
    try {
      fs.statSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw usageError(code === 'ENOENT' ? `--userns: user namespace ${p} does not exist` : `--userns: cannot use user namespace ${p}: ${code}`, 'give a path such as /proc/PID/ns/user');
    }
    return { mode: userns, ...checkUsernsConflicts(f) };
  }
  return { mode: userns ?? '' };
}

/** docker's refusals for a container in a user namespace of its own. */
function checkUsernsConflicts(f: { privileged: boolean; network: string }): object {
  if (f.privileged) throw usageError('privileged mode is incompatible with user namespaces', 'run without --privileged, or in the host user namespace');
  if (f.network === 'host') throw usageError("cannot share the host's network namespace when user namespaces are enabled");
  return {};
}
