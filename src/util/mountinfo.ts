/**
 * /proc/self/mountinfo, parsed once per call: mount point (octal escapes
 * undone), file system type and super options. Pure text parsing; callers
 * filter what they need (cgroup hierarchies, mounts below a container dir).
 */
import fs from 'node:fs';

export interface MountEntry {
  /** Where it is mounted, e.g. /sys/fs/cgroup/memory. */
  mountPoint: string;
  fstype: string;
  /** Super options, e.g. "rw,memory" for a v1 cgroup hierarchy. */
  superOptions: string[];
  /** Optional fields: the propagation (shared:N, master:N, propagate_from:N, unbindable); none: private. */
  propagation: string[];
}

function unescapeMount(s: string): string {
  return s.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function readMountInfo(file = '/proc/self/mountinfo'): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    // optional fields end at " - ": mount point is field 5 before it, fstype and super options after it
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const head = line.slice(0, sep).split(' ');
    const mp = head[4];
    if (!mp) continue;
    const [fstype = '', , superOpts = ''] = line.slice(sep + 3).split(' ');
    out.push({ mountPoint: unescapeMount(mp), fstype, superOptions: superOpts.split(','), propagation: head.slice(6) });
  }
  return out;
}

let cgroupEntries: MountEntry[] | undefined;

/** The cgroup (v1 and v2) mounts, read once per process: the host's hierarchies do not move under a running tsrun. */
export function cgroupMountEntries(): MountEntry[] {
  cgroupEntries ??= readMountInfo().filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2');
  return cgroupEntries;
}

/** Mount points at or below dir (after realpath), deepest first; [] when dir does not exist. */
export function mountsBelow(dir: string): string[] {
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    return [];
  }
  return readMountInfo()
    .map((m) => m.mountPoint)
    .filter((m) => m === real || m.startsWith(real + '/'))
    .sort((a, b) => b.length - a.length);
}
