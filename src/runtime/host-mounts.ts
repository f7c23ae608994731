/**
 * The part of a container's filesystem that depends on the host, not on the
 * container's config: for --privileged, the host's device nodes in /dev.
 * (The cgroup hierarchies at /sys/fs/cgroup are the launcher's to find: the
 * spec has one "cgroup" mount, native/init/spec_mounts.c.)
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FsOp } from './mounts.js';

/** /dev entries --privileged does not copy: tsrun makes its own (pty, console, fd links) or they are mounts. */
const SKIP_DIRS = new Set(['pts', 'shm', 'mqueue', 'fd', 'hugepages', '.lxc', '.lxd-mounts', '.udev']);
const SKIP_NAMES = new Set(['console', 'ptmx', 'null', 'zero', 'full', 'random', 'urandom', 'core']);
const S_IFMT = 0o170000;

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
