/**
 * Seccomp profiles in docker's JSON format: reading one, and which of its
 * rules apply for these capabilities, this architecture and kernel (decided
 * here; spec/seccomp.ts writes the result as the spec's linux.seccomp).
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

/** docker's arch names for the host (GOARCH), plus their compat ABIs. */
export function hostArches(): string[] {
  const m: Record<string, string[]> = { x64: ['amd64', 'x86', 'x32'], arm64: ['arm64', 'arm'], s390x: ['s390x', 's390'], ppc64: ['ppc64le'], riscv64: ['riscv64'] };
  return m[process.arch] ?? [process.arch];
}

export function applies(rule: SeccompRule, caps: Set<string>, arches: string[]): boolean {
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
