/**
 * The seccomp part of the launch plan: "seccomp.default", "seccomp.cache" and
 * one "seccomp.rule" record per syscall rule (native/init/plan.c reads them;
 * the launcher compiles them with libseccomp and caches the BPF in
 * SECCOMP_CACHE_DIR).
 *
 * Docker's default profile, compiled for the container's capabilities, is
 * ~350 rules: ~1.2 ms of cold code on every `run` while the container process
 * waits for its plan. What comes out depends only on the profile, the
 * capabilities, the architecture and the kernel release (minKernel rules), so
 * the records are kept in SECCOMP_CACHE_DIR under a name made of those. The
 * profile's part is an id the bundle build computes from the compiler's and
 * the profile's code (scripts/bundle.js): tsc's output run directly has none
 * and compiles every time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compileSeccomp, type CompiledSeccomp } from './seccomp.js';
import { DEFAULT_SECCOMP_PROFILE } from './seccomp-default.js';
import { capMask } from './caps.js';
import { kernelRelease, randomHex } from '../util/builtins.js';

/** Runtime state, not part of any store; root-only (0700), as the launcher makes it (native/init/seccomp.c). */
export const SECCOMP_CACHE_DIR = '/run/tsrun/seccomp';
/** The plan's field separator (plan.ts). */
const SEP = '\x1f';

declare const __TSRUN_SECCOMP_PROFILE_ID: string | undefined;

/**
 * The records in one pass, joined once. compileSeccomp admits only [a-z0-9_]
 * syscall names and the rest are numbers: none of PlanWriter.add's per-field
 * checks is needed, and the text is ASCII.
 */
export function seccompRecords(compiled: CompiledSeccomp): string {
  const out = [`seccomp.default=${compiled.defaultAction}\0seccomp.cache=${SECCOMP_CACHE_DIR}\0`];
  for (const r of compiled.rules) {
    out.push(`seccomp.rule=${r.action}${SEP}${r.name}`);
    for (const a of r.args) out.push(`${SEP}${a.index},${a.op},${a.v1},${a.v2}`);
    out.push('\0');
  }
  return out.join('');
}

/** The records of docker's default profile for these capabilities, from the cache when it has them. */
export function defaultSeccompRecords(caps: string[]): string {
  const id = typeof __TSRUN_SECCOMP_PROFILE_ID === 'string' ? __TSRUN_SECCOMP_PROFILE_ID : undefined;
  const file = id && path.join(SECCOMP_CACHE_DIR, `records-${id}-${capMask(caps)}-${process.arch}-${kernelRelease().replace(/[^\w.-]/g, '_')}`);
  if (file) {
    try {
      const text = fs.readFileSync(file, 'latin1');
      if (text.startsWith('seccomp.default=') && text.endsWith('\0')) return text;
    } catch {
      /* not cached yet */
    }
  }
  const text = seccompRecords(compileSeccomp(DEFAULT_SECCOMP_PROFILE, caps));
  if (file) {
    const tmp = `${file}.tmp-${process.pid}-${randomHex(4)}`;
    try {
      fs.mkdirSync(SECCOMP_CACHE_DIR, { recursive: true, mode: 0o700 });
      fs.writeFileSync(tmp, text, { encoding: 'latin1', mode: 0o600, flag: 'wx' });
      fs.renameSync(tmp, file);
    } catch {
      fs.rmSync(tmp, { force: true }); // a full or read-only /run: compile every time, leave nothing
    }
  }
  return text;
}
