/**
 * The container's filesystem in the spec: docker's default mounts (moby's
 * default spec), the /etc files tsrun manages, volumes and tmpfs; the /dev
 * nodes (docker's six, --privileged's copies of the host's, --device); the
 * masked and read-only paths of /proc and /sys. The launcher adds what every
 * runtime adds (/dev/fd, /dev/ptmx and the other /dev links, the cgroup
 * hierarchies of a "cgroup" mount: native/init/spec_*.c).
 */
import type { ContainerConfig } from '../../containers/record.js';
import { ETC_FILES, MASKED_PATHS, READONLY_PATHS, type FsOp } from '../mounts.js';
import { hostDeviceOps } from '../host-mounts.js';
import { containerDevices } from '../devices.js';
import { bindPropagationOptions, rootfsPropagation } from './propagation.js';
import type { SpecDevice, SpecDeviceRule, SpecMount } from './types.js';

const DEFAULT_DEVICES: [string, number, number][] = [
  ['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0],
];

const m = (destination: string, type: string, source: string, options: string[]): SpecMount => ({ destination, type, source, options });

export function specMounts(c: ContainerConfig, dir: string): SpecMount[] {
  const priv = c.host.privileged;
  const mounts: SpecMount[] = [
    m('/proc', 'proc', 'proc', ['nosuid', 'noexec', 'nodev']),
    m('/dev', 'tmpfs', 'tmpfs', ['nosuid', 'strictatime', 'mode=755', 'size=65536k']),
    m('/dev/pts', 'devpts', 'devpts', ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']),
    m('/dev/shm', 'tmpfs', 'shm', ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${Math.ceil((c.host.shmSize ?? 67108864) / 1024)}k`]), // --shm-size, docker's 64m default
    m('/dev/mqueue', 'mqueue', 'mqueue', ['nosuid', 'noexec', 'nodev']),
    m('/sys', 'sysfs', 'sysfs', ['nosuid', 'noexec', 'nodev', ...(priv ? [] : ['ro'])]),
    // the launcher mounts the host's hierarchies here (cgroup2, or a tmpfs of v1 hierarchies)
    m('/sys/fs/cgroup', 'cgroup', 'cgroup', ['nosuid', 'noexec', 'nodev', 'relatime', ...(priv ? [] : ['ro'])]),
  ];
  for (const f of ETC_FILES) mounts.push(m(`/etc/${f}`, 'bind', `${dir}/${f}`, ['rbind']));
  const root = rootfsPropagation(c.host.mounts);
  for (const v of c.host.mounts) {
    if (v.type === 'volume' && v.device) {
      // a local-driver volume with type/device/o (tmpfs, nfs …): mounted in the container, not bound
      const data = v.device.data ? v.device.data.split(',').filter(Boolean) : [];
      mounts.push(m(v.destination, v.device.fstype, v.device.source, [...(v.readonly ? ['ro'] : []), 'relatime', ...data]));
      continue;
    }
    if (v.type === 'bind' || v.type === 'volume') {
      // a volume is a bind of its _data dir (or of the host dir its o=bind names)
      mounts.push(m(v.destination, 'bind', v.source!, ['rbind', ...(v.readonly ? ['ro'] : []), ...bindPropagationOptions(v, root)]));
      continue;
    }
    const given = v.options ?? [];
    const has = (o: string) => given.includes(o);
    const flags = [
      ...(has('ro') || v.readonly ? ['ro'] : []),
      ...(has('suid') ? [] : ['nosuid']),
      ...(has('dev') ? [] : ['nodev']),
      ...(has('exec') ? [] : has('noexec') ? ['noexec'] : []),
      'relatime',
    ];
    const data = given.filter((o) => !['ro', 'rw', 'nosuid', 'nodev', 'noexec', 'suid', 'dev', 'exec'].includes(o));
    mounts.push(m(v.destination, 'tmpfs', 'tmpfs', [...flags, ...data]));
  }
  return mounts;
}

function nodeDevice(o: FsOp & { op: 'mknod' }): SpecDevice {
  const fmt = o.mode & 0o170000;
  const d: SpecDevice = { path: o.dst, type: fmt === 0o060000 ? 'b' : fmt === 0o010000 ? 'p' : 'c', major: o.major, minor: o.minor, fileMode: o.mode & 0o7777 };
  if (o.uid !== undefined) Object.assign(d, { uid: o.uid, gid: o.gid ?? 0 });
  return d;
}

/**
 * linux.devices and linux.resources.devices: docker's six nodes, then
 * --privileged's copies of the host's (one --device replaces at the same
 * path), then --device's; the allow-list after a deny-all (every device when
 * privileged).
 */
export function specDevices(c: ContainerConfig): { devices: SpecDevice[]; rules: SpecDeviceRule[] } {
  const d = containerDevices(c.host);
  const mapped = new Set(d.ops.map((o) => o.dst));
  const host = c.host.privileged ? hostDeviceOps().filter((o) => !mapped.has(o.dst)) : [];
  const devices: SpecDevice[] = DEFAULT_DEVICES.map(([name, major, minor]) => ({ path: `/dev/${name}`, type: 'c', major, minor, fileMode: 0o666 }));
  for (const o of [...host, ...d.ops]) if (o.op === 'mknod') devices.push(nodeDevice(o));
  if (c.host.privileged) return { devices, rules: [{ allow: true, type: 'a', access: 'rwm' }] };
  const rules: SpecDeviceRule[] = [{ allow: false, type: 'a', access: 'rwm' }];
  for (const r of d.rules) {
    const rule: SpecDeviceRule = { allow: true, type: r.type, access: r.access };
    if (r.major >= 0) rule.major = r.major;
    if (r.minor >= 0) rule.minor = r.minor;
    rules.push(rule);
  }
  return { devices, rules };
}

/** maskedPaths and readonlyPaths: docker's, none when privileged. */
export function specPaths(c: ContainerConfig): { maskedPaths?: string[]; readonlyPaths?: string[] } {
  if (c.host.privileged) return {};
  return { maskedPaths: [...MASKED_PATHS], readonlyPaths: [...READONLY_PATHS] };
}
