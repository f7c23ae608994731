/**
 * The host facts resources.ts checks flags against, and the device numbers of
 * throttled devices: the impure half of the resources module, read only when
 * a flag needs it.
 */
import fs from 'node:fs';
import { usageError } from '../util/errors.js';
import type { HostFacts } from './resources.js';

function readTrim(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

let facts: HostFacts | undefined;

/** CPUs and memory nodes online, and whether the kernel accounts swap (docker's sysinfo). */
export function hostFacts(): HostFacts {
  if (facts) return facts;
  const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
  facts = {
    // the CPUs tsrun's cpuset allows (a container cannot get more), else the online ones
    cpus: readTrim(v2 ? '/sys/fs/cgroup/cpuset.cpus.effective' : '/sys/fs/cgroup/cpuset/cpuset.effective_cpus') || readTrim('/sys/devices/system/cpu/online') || '0',
    mems: readTrim(v2 ? '/sys/fs/cgroup/cpuset.mems.effective' : '/sys/fs/cgroup/cpuset/cpuset.effective_mems') || readTrim('/sys/devices/system/node/online') || '0',
    swapAccounting: v2 ? fs.existsSync('/proc/swaps') : fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
  };
  return facts;
}

/** A block device's major:minor (for blkio throttles), docker's check that it is one. */
export function blockDeviceNumber(p: string): { major: number; minor: number } {
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(p, { bigint: true });
  } catch (err) {
    throw usageError(`${p}: no such device (${(err as NodeJS.ErrnoException).code ?? err})`, 'give the path of a block device, e.g. /dev/sda');
  }
  if (!st.isBlockDevice()) throw usageError(`${p} is not a block device`, 'give the path of a block device, e.g. /dev/sda');
  const rdev = st.rdev;
  // glibc's gnu_dev_major/minor
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}
