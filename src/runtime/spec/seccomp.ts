/**
 * linux.seccomp: docker's profile format (includes/excludes by capability,
 * architecture and kernel) resolved for this container into the runtime
 * spec's plain form, which the launcher compiles with libseccomp (and caches
 * as BPF: native/init/seccomp.c).
 *
 * Docker's default profile, resolved for the container's capabilities, costs
 * ~1 ms of cold code on every `run`. What comes out depends only on the
 * profile, the capabilities, the architecture and the kernel release
 * (minKernel rules), so it is kept in SECCOMP_CACHE_DIR under a name made of
 * those. The profile's part is an id the bundle build computes from the
 * compiler's and the profile's code (scripts/bundle.js): tsc's output run
 * directly has none and resolves every time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { applies, hostArches, type SeccompProfile } from '../seccomp.js';
import { defaultSeccompProfile } from '../seccomp-default.js';
import { capMask } from '../caps.js';
import { kernelRelease, randomHex } from '../../util/builtins.js';
import { TsrunError } from '../../util/errors.js';
import type { SpecSeccomp, SpecSeccompArg } from './types.js';

/** Runtime state, not part of any store; root-only (0700), as the launcher makes it (native/init/seccomp.c). */
export const SECCOMP_CACHE_DIR = '/run/tsrun/seccomp';

declare const __TSRUN_SECCOMP_PROFILE_ID: string | undefined;

const ACTIONS = new Set(['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE']);
const OPS = new Set(['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ']);
const EPERM = 1;

/** An action with its errno made explicit (ERRNO and TRACE): the spec leaves no default to guess. */
function action(name: string, errnoRet: number | undefined, where: string): { action: string; errnoRet?: number } {
  if (!ACTIONS.has(name)) throw new TsrunError('UNSUPPORTED', `seccomp profile: unknown action ${JSON.stringify(name)} in ${where}`);
  const a = name === 'SCMP_ACT_KILL' ? 'SCMP_ACT_KILL_THREAD' : name;
  if (a === 'SCMP_ACT_ERRNO') return { action: a, errnoRet: errnoRet ?? EPERM };
  if (a === 'SCMP_ACT_TRACE') return { action: a, errnoRet: errnoRet ?? EPERM };
  return { action: a };
}

/** A docker-format profile, resolved for a process with these capabilities (names without CAP_). */
export function specSeccomp(profile: SeccompProfile, capNames: string[]): SpecSeccomp {
  if (!profile || typeof profile.defaultAction !== 'string') throw new TsrunError('INVALID_ARCHIVE', 'seccomp profile lacks defaultAction', { hint: "use docker's seccomp JSON format" });
  const caps = new Set(capNames);
  const arches = hostArches();
  const def = action(profile.defaultAction, profile.defaultErrnoRet, 'defaultAction');
  const out: SpecSeccomp = { defaultAction: def.action, ...(def.errnoRet !== undefined ? { defaultErrnoRet: def.errnoRet } : {}), syscalls: [] };
  for (const rule of profile.syscalls ?? []) {
    if (!applies(rule, caps, arches)) continue;
    const names = rule.names ?? (rule.name ? [rule.name] : []);
    if (!names.length) continue;
    for (const name of names) if (!/^[a-z0-9_]+$/.test(name)) throw new TsrunError('INVALID_ARCHIVE', `seccomp profile: bad syscall name ${JSON.stringify(name)}`);
    const args: SpecSeccompArg[] = (rule.args ?? []).map((a) => {
      if (!OPS.has(a.op) || !Number.isInteger(a.index) || a.index < 0 || a.index > 5) {
        throw new TsrunError('INVALID_ARCHIVE', `seccomp profile: bad argument rule for ${names.join(',')}`, { hint: 'index 0-5 and a SCMP_CMP_* op' });
      }
      return { index: a.index, value: a.value, valueTwo: a.valueTwo ?? 0, op: a.op };
    });
    if (args.length > 6) throw new TsrunError('INVALID_ARCHIVE', `seccomp profile: more than 6 argument rules for ${names.join(',')}`);
    const act = action(rule.action, rule.errnoRet ?? profile.defaultErrnoRet, names.join(','));
    out.syscalls.push({ names: [...names], ...act, ...(args.length ? { args } : {}) });
  }
  return out;
}

/** docker's default profile for these capabilities, from the cache when it has it. */
export function defaultSpecSeccomp(caps: string[]): SpecSeccomp {
  const id = typeof __TSRUN_SECCOMP_PROFILE_ID === 'string' ? __TSRUN_SECCOMP_PROFILE_ID : undefined;
  const file = id && path.join(SECCOMP_CACHE_DIR, `spec-${id}-${capMask(caps)}-${process.arch}-${kernelRelease().replace(/[^\w.-]/g, '_')}.json`);
  if (file) {
    try {
      const cached = JSON.parse(fs.readFileSync(file, 'latin1')) as SpecSeccomp;
      if (typeof cached?.defaultAction === 'string' && Array.isArray(cached.syscalls)) return cached;
    } catch {
      /* not cached yet (or damaged: written again below) */
    }
  }
  const sc = specSeccomp(defaultSeccompProfile(), caps);
  if (file) {
    const tmp = `${file}.tmp-${process.pid}-${randomHex(4)}`;
    try {
      fs.mkdirSync(SECCOMP_CACHE_DIR, { recursive: true, mode: 0o700 });
      fs.writeFileSync(tmp, JSON.stringify(sc), { encoding: 'latin1', mode: 0o600, flag: 'wx' });
      fs.renameSync(tmp, file);
    } catch {
      fs.rmSync(tmp, { force: true }); // a full or read-only /run: resolve every time, leave nothing
    }
  }
  return sc;
}
