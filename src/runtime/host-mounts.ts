/**
 * The parts of a container's filesystem that depend on the host, not on the
 * container's config: its cgroup at /sys/fs/cgroup (docker mounts the
 * container's own cgroup there, seen through its cgroup namespace) and, for
 * --privileged, the host's device nodes in /dev.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MSF, type FsOp } from './mounts.js';
import { cgroupMountEntries } from '../util/mountinfo.js';

interface CgroupMount {
  mount: string;
  fstype: 'cgroup' | 'cgroup2';
  /** Super options without rw/ro: the controllers (and name=) of a v1 hierarchy. */
  options: string;
}

function hostCgroupMounts(): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const { mountPoint: mount, fstype, superOptions } of cgroupMountEntries()) {
    if ((fstype !== 'cgroup' && fstype !== 'cgroup2') || (mount !== '/sys/fs/cgroup' && !mount.startsWith('/sys/fs/cgroup/'))) continue;
    out.push({ mount, fstype, options: superOptions.filter((o) => o !== 'rw' && o !== 'ro').join(',') });
  }
  return out;
}

/**
 * /sys/fs/cgroup as docker sets it up, read-only unless privileged. The
 * child enters its cgroup namespace after joining its cgroup, so each
 * hierarchy mounted there has the container's own cgroup as its root.
 * v2: one cgroup2 mount. v1: a tmpfs with one mount per hierarchy (named as
 * on the host, with the host's alias symlinks such as cpu → cpu,cpuacct),
 * then the tmpfs itself made read-only.
 */
export function cgroupFsOps(privileged: boolean): FsOp[] {
  const { NOSUID, NODEV, NOEXEC, RELATIME, RDONLY } = MSF;
  const flags = NOSUID | NODEV | NOEXEC | RELATIME | (privileged ? 0 : RDONLY);
  let mounts: CgroupMount[];
  try {
    mounts = hostCgroupMounts();
  } catch {
    return [];
  }
  const unified = mounts.find((m) => m.mount === '/sys/fs/cgroup' && m.fstype === 'cgroup2');
  if (unified) return [{ op: 'mount', src: 'cgroup', dst: '/sys/fs/cgroup', fstype: 'cgroup2', flags, data: '' }];
  const below = mounts.filter((m) => path.dirname(m.mount) === '/sys/fs/cgroup');
  if (!below.length) return [];
  const ops: FsOp[] = [{ op: 'mount', src: 'tmpfs', dst: '/sys/fs/cgroup', fstype: 'tmpfs', flags: NOSUID | NODEV | NOEXEC, data: 'mode=755' }];
  for (const m of below) {
    ops.push({ op: 'mount', src: 'cgroup', dst: m.mount, fstype: m.fstype, flags, data: m.fstype === 'cgroup' ? m.options : '' });
  }
  try {
    for (const e of fs.readdirSync('/sys/fs/cgroup', { withFileTypes: true })) {
      if (!e.isSymbolicLink()) continue;
      const p = path.join('/sys/fs/cgroup', e.name);
      const target = fs.readlinkSync(p);
      if (!target.includes('/') && below.some((m) => path.basename(m.mount) === target)) ops.push({ op: 'symlink', target, dst: p });
    }
  } catch {
    /* no aliases */
  }
  // the tmpfs is the container's own: remount its superblock read-only (a bind would duplicate every hierarchy)
  if (!privileged) ops.push({ op: 'mount', src: 'tmpfs', dst: '/sys/fs/cgroup', fstype: 'tmpfs', flags: MS_REMOUNT | RDONLY | NOSUID | NODEV | NOEXEC, data: 'mode=755' });
  return ops;
}

/** /dev entries --privileged does not copy: tsrun makes its own (pty, console, fd links) or they are mounts. */
const SKIP_DIRS = new Set(['pts', 'shm', 'mqueue', 'fd', 'hugepages', '.lxc', '.lxd-mounts', '.udev']);
const SKIP_NAMES = new Set(['console', 'ptmx', 'null', 'zero', 'full', 'random', 'urandom', 'core']);
const S_IFMT = 0o170000;
const MS_REMOUNT = 32;

/** linux/kdev_t.h: the dev_t encoding of glibc's major()/minor(). */
export function majorMinor(rdev: bigint): [number, number] {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return [major, minor];
}

/**
 * --privileged: every char and block device of the host's /dev, with its
 * mode and owner (runc's HostDevices). Terminals (tty*) are left out: the
 * container has its own pty and /dev/tty; the host's consoles do not belong.
 */
export function hostDeviceOps(devRoot = '/dev'): FsOp[] {
  const ops: FsOp[] = [];
  const walk = (dir: string, depth: number) => {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const p = path.join(dir, name);
      let st: fs.BigIntStats;
      try {
        st = fs.lstatSync(p, { bigint: true });
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (!(depth === 0 && SKIP_DIRS.has(name)) && depth < 4) walk(p, depth + 1);
        continue;
      }
      if (!st.isCharacterDevice() && !st.isBlockDevice()) continue;
      if (depth === 0 && (SKIP_NAMES.has(name) || name.startsWith('tty'))) continue;
      const [major, minor] = majorMinor(st.rdev);
      const mode = Number(st.mode) & (S_IFMT | 0o7777);
      ops.push({ op: 'mknod', dst: path.join('/dev', path.relative(devRoot, p)), mode, major, minor, uid: Number(st.uid), gid: Number(st.gid) });
    }
  };
  walk(devRoot, 0);
  return ops;
}
