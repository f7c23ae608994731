/**
 * Linux capabilities by name, and the set a container gets: docker's 14
 * defaults, then --cap-add / --cap-drop (ALL allowed in both), or every
 * capability with --privileged.
 */
import { usageError } from '../util/errors.js';

/** Capability numbers from <linux/capability.h>. */
export const CAPS: Record<string, number> = {
  CHOWN: 0, DAC_OVERRIDE: 1, DAC_READ_SEARCH: 2, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7,
  SETPCAP: 8, LINUX_IMMUTABLE: 9, NET_BIND_SERVICE: 10, NET_BROADCAST: 11, NET_ADMIN: 12, NET_RAW: 13,
  IPC_LOCK: 14, IPC_OWNER: 15, SYS_MODULE: 16, SYS_RAWIO: 17, SYS_CHROOT: 18, SYS_PTRACE: 19, SYS_PACCT: 20,
  SYS_ADMIN: 21, SYS_BOOT: 22, SYS_NICE: 23, SYS_RESOURCE: 24, SYS_TIME: 25, SYS_TTY_CONFIG: 26, MKNOD: 27,
  LEASE: 28, AUDIT_WRITE: 29, AUDIT_CONTROL: 30, SETFCAP: 31, MAC_OVERRIDE: 32, MAC_ADMIN: 33, SYSLOG: 34,
  WAKE_ALARM: 35, BLOCK_SUSPEND: 36, AUDIT_READ: 37, PERFMON: 38, BPF: 39, CHECKPOINT_RESTORE: 40,
};

export const DEFAULT_CAPS = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID',
  'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
];

/** "cap_sys_admin", "SYS_ADMIN", "CAP_SYS_ADMIN" → "SYS_ADMIN"; "ALL" stays. */
export function normaliseCap(name: string): string {
  const n = name.trim().toUpperCase().replace(/^CAP_/, '');
  if (n !== 'ALL' && !(n in CAPS)) throw usageError(`unknown capability ${JSON.stringify(name)}`, 'see capabilities(7) for the names');
  return n;
}

/** The capability names the container's process gets. */
export function capabilitySet(opts: { privileged: boolean; capAdd: string[]; capDrop: string[] }): string[] {
  const all = Object.keys(CAPS);
  if (opts.privileged) return all;
  const add = opts.capAdd.map(normaliseCap);
  const drop = opts.capDrop.map(normaliseCap);
  let set = new Set(DEFAULT_CAPS);
  if (drop.includes('ALL')) set = new Set();
  for (const d of drop) set.delete(d);
  if (add.includes('ALL')) for (const c of all) set.add(c);
  for (const a of add) if (a !== 'ALL') set.add(a);
  return [...set];
}

/** Bit mask (hex, as /proc/PID/status prints CapEff) of a set of names. */
export function capMask(names: string[]): string {
  let m = 0n;
  for (const n of names) m |= 1n << BigInt(CAPS[n]!);
  return m.toString(16);
}
