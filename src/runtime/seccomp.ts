/**
 * Seccomp profiles in docker's JSON format → the launcher's rule records.
 * Policy (which rules apply for these capabilities, this architecture and
 * kernel) is decided here; tsrun-init only hands the result to libseccomp.
 */
import fs from 'node:fs';
import { TsrunError } from '../util/errors.js';
import { kernelAtLeast } from '../util/builtins.js';

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface SeccompRule {
  names?: string[];
  name?: string;
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  excludes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  comment?: string;
}

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  syscalls?: SeccompRule[] | null;
  [extra: string]: unknown;
}

/** What tsrun-init gets: libseccomp action values and compare ops, by number. */
export interface CompiledSeccomp {
  defaultAction: number;
  rules: { action: number; name: string; args: { index: number; op: number; v1: bigint; v2: bigint }[] }[];
}

const EPERM = 1;

function action(name: string, errnoRet: number | undefined, where: string): number {
  switch (name) {
    case 'SCMP_ACT_ALLOW':
      return 0x7fff0000;
    case 'SCMP_ACT_ERRNO':
      return (0x00050000 | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return 0;
    case 'SCMP_ACT_KILL_PROCESS':
      return 0x80000000;
    case 'SCMP_ACT_TRAP':
      return 0x00030000;
    case 'SCMP_ACT_LOG':
      return 0x7ffc0000;
    case 'SCMP_ACT_TRACE':
      return (0x7ff00000 | ((errnoRet ?? 0) & 0xffff)) >>> 0;
  }
  throw new TsrunError('UNSUPPORTED', `seccomp profile: unknown action ${JSON.stringify(name)} in ${where}`);
}

const OPS: Record<string, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

/** docker's arch names for the host (GOARCH), plus their compat ABIs. */
function hostArches(): string[] {
  const m: Record<string, string[]> = { x64: ['amd64', 'x86', 'x32'], arm64: ['arm64', 'arm'], s390x: ['s390x', 's390'], ppc64: ['ppc64le'], riscv64: ['riscv64'] };
  return m[process.arch] ?? [process.arch];
}

function applies(rule: SeccompRule, caps: Set<string>, arches: string[]): boolean {
  const inc = rule.includes ?? {};
  const exc = rule.excludes ?? {};
  if (inc.caps?.length && !inc.caps.every((c) => caps.has(c.replace(/^CAP_/, '')))) return false;
  if (inc.arches?.length && !inc.arches.some((a) => a === arches[0])) return false;
  if (inc.minKernel && !kernelAtLeast(inc.minKernel)) return false;
  if (exc.caps?.length && exc.caps.some((c) => caps.has(c.replace(/^CAP_/, '')))) return false;
  if (exc.arches?.length && exc.arches.some((a) => a === arches[0])) return false;
  if (exc.minKernel && kernelAtLeast(exc.minKernel)) return false;
  return true;
}

/** Compile a profile for a process with these capabilities (names without CAP_). */
export function compileSeccomp(profile: SeccompProfile, capNames: string[]): CompiledSeccomp {
  if (!profile || typeof profile.defaultAction !== 'string') throw new TsrunError('INVALID_ARCHIVE', 'seccomp profile lacks defaultAction', { hint: "use docker's seccomp JSON format" });
  const caps = new Set(capNames);
  const arches = hostArches();
  const out: CompiledSeccomp = { defaultAction: action(profile.defaultAction, profile.defaultErrnoRet, 'defaultAction'), rules: [] };
  for (const rule of profile.syscalls ?? []) {
    if (!applies(rule, caps, arches)) continue;
    const names = rule.names ?? (rule.name ? [rule.name] : []);
    const act = action(rule.action, rule.errnoRet ?? profile.defaultErrnoRet, names.join(','));
    const args = (rule.args ?? []).map((a) => {
      const op = OPS[a.op];
      if (op === undefined || !Number.isInteger(a.index) || a.index < 0 || a.index > 5) {
        throw new TsrunError('INVALID_ARCHIVE', `seccomp profile: bad argument rule for ${names.join(',')}`, { hint: 'index 0-5 and a SCMP_CMP_* op' });
      }
      // docker: for MASKED_EQ, value is the mask and valueTwo the datum, as libseccomp's (arg, op, datum_a, datum_b)
      return { index: a.index, op, v1: BigInt(a.value), v2: BigInt(a.valueTwo ?? 0) };
    });
    if (args.length > 6) throw new TsrunError('INVALID_ARCHIVE', `seccomp profile: more than 6 argument rules for ${names.join(',')}`);
    for (const name of names) {
      if (!/^[a-z0-9_]+$/.test(name)) throw new TsrunError('INVALID_ARCHIVE', `seccomp profile: bad syscall name ${JSON.stringify(name)}`);
      out.rules.push({ action: act, name, args });
    }
  }
  return out;
}

export function readSeccompFile(file: string): SeccompProfile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new TsrunError('NOT_FOUND', `cannot read seccomp profile ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`, { hint: 'give the path of a JSON profile in docker format' });
  }
  try {
    return JSON.parse(text) as SeccompProfile;
  } catch {
    throw new TsrunError('INVALID_ARCHIVE', `seccomp profile ${file} is not valid JSON`, { hint: "use docker's seccomp JSON format" });
  }
}
