/**
 * The container's filesystem operations, in the order tsrun-init carries
 * them out on the new root (before pivot_root): docker's default mounts,
 * /dev contents, the /etc files tsrun manages, volumes and tmpfs, then the
 * masked and read-only paths of /proc and /sys.
 */
import type { ContainerConfig } from '../containers/record.js';

export type FsOp =
  | { op: 'mount'; src: string; dst: string; fstype: string; flags: number; data: string }
  | { op: 'mknod'; dst: string; mode: number; major: number; minor: number; uid?: number; gid?: number }
  | { op: 'symlink'; target: string; dst: string }
  | { op: 'mask'; dst: string }
  | { op: 'ropath'; dst: string }
  | { op: 'mkdir'; dst: string };

export const MSF = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, BIND: 4096, REC: 16384, STRICTATIME: 1 << 24, RELATIME: 1 << 21,
} as const;

export const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
  '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const DEVICES: [string, number, number][] = [
  ['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0],
];

/** The files tsrun writes in the container dir and binds over /etc. */
export const ETC_FILES = ['hostname', 'hosts', 'resolv.conf'] as const;

/** Container paths tsrun mounts onto (commit leaves out the empty placeholders it may have created). */
export function mountTargets(c: ContainerConfig): string[] {
  return [...ETC_FILES.map((f) => `/etc/${f}`), ...c.host.mounts.map((m) => m.destination)];
}

/** Host-dependent ops (see host-mounts.ts), spliced in where they belong. */
export interface HostOps {
  /** After tsrun's own /dev nodes: --privileged's host devices. */
  devices?: FsOp[];
  /** After /sys: the cgroup filesystem. */
  cgroup?: FsOp[];
}

export function fsOps(c: ContainerConfig, dir: string, host: HostOps = {}): FsOp[] {
  const { NOSUID, NODEV, NOEXEC, RDONLY, BIND, REC, STRICTATIME, RELATIME } = MSF;
  const priv = c.host.privileged;
  const ops: FsOp[] = [
    { op: 'mount', src: 'proc', dst: '/proc', fstype: 'proc', flags: NOSUID | NODEV | NOEXEC, data: '' },
    { op: 'mount', src: 'tmpfs', dst: '/dev', fstype: 'tmpfs', flags: NOSUID | STRICTATIME, data: 'mode=755,size=65536k' },
    ...DEVICES.map(([name, major, minor]): FsOp => ({ op: 'mknod', dst: `/dev/${name}`, mode: 0o666, major, minor })),
    ...(host.devices ?? []),
    { op: 'symlink', target: '/proc/self/fd', dst: '/dev/fd' },
    { op: 'symlink', target: '/proc/self/fd/0', dst: '/dev/stdin' },
    { op: 'symlink', target: '/proc/self/fd/1', dst: '/dev/stdout' },
    { op: 'symlink', target: '/proc/self/fd/2', dst: '/dev/stderr' },
    { op: 'symlink', target: '/proc/kcore', dst: '/dev/core' },
    { op: 'mount', src: 'devpts', dst: '/dev/pts', fstype: 'devpts', flags: NOSUID | NOEXEC, data: 'newinstance,ptmxmode=0666,mode=0620,gid=5' },
    { op: 'symlink', target: 'pts/ptmx', dst: '/dev/ptmx' },
    { op: 'mount', src: 'shm', dst: '/dev/shm', fstype: 'tmpfs', flags: NOSUID | NODEV | NOEXEC, data: `mode=1777,size=${Math.ceil((c.host.shmSize ?? 67108864) / 1024)}k` }, // --shm-size, docker's 64m default
    { op: 'mount', src: 'mqueue', dst: '/dev/mqueue', fstype: 'mqueue', flags: NOSUID | NODEV | NOEXEC, data: '' },
    { op: 'mount', src: 'sysfs', dst: '/sys', fstype: 'sysfs', flags: NOSUID | NODEV | NOEXEC | (priv ? 0 : RDONLY), data: '' },
    ...(host.cgroup ?? []),
  ];
  for (const f of ETC_FILES) ops.push({ op: 'mount', src: `${dir}/${f}`, dst: `/etc/${f}`, fstype: '', flags: BIND | REC, data: '' });
  for (const m of c.host.mounts) {
    if (m.type === 'volume' && m.device) {
      // a local-driver volume with type/device/o (tmpfs, nfs …): mounted in the container, not bound
      ops.push({ op: 'mount', src: m.device.source, dst: m.destination, fstype: m.device.fstype, flags: (m.readonly ? RDONLY : 0) | RELATIME, data: m.device.data });
    } else if (m.type === 'bind' || m.type === 'volume') {
      // a volume is a bind of its _data dir (or of the host dir its o=bind names)
      ops.push({ op: 'mount', src: m.source!, dst: m.destination, fstype: '', flags: BIND | REC | (m.readonly ? RDONLY : 0), data: '' });
    } else {
      const opts = (m.options ?? []).filter((o) => !['ro', 'rw', 'nosuid', 'nodev', 'noexec', 'suid', 'dev', 'exec'].includes(o));
      const has = (o: string) => (m.options ?? []).includes(o);
      const flags = (has('ro') || m.readonly ? RDONLY : 0) | (has('suid') ? 0 : NOSUID) | (has('dev') ? 0 : NODEV) | (has('exec') ? 0 : has('noexec') ? NOEXEC : 0) | RELATIME;
      ops.push({ op: 'mount', src: 'tmpfs', dst: m.destination, fstype: 'tmpfs', flags, data: opts.join(',') });
    }
  }
  if (!priv) {
    for (const p of MASKED_PATHS) ops.push({ op: 'mask', dst: p });
    for (const p of READONLY_PATHS) ops.push({ op: 'ropath', dst: p });
  }
  if (c.workingDir && c.workingDir !== '/') ops.push({ op: 'mkdir', dst: c.workingDir });
  return ops;
}
