/**
 * Network namespace files (podman's model): tsrun makes the namespace before
 * the container exists, as a bind mount on /run/tsrun/netns/ID that outlives
 * every process in it, has netavark set it up, and the container joins it by
 * path (the spec's linux.namespaces network entry with a path). Made by the
 * launcher, tsrun-init, given the one frame "netns=PATH" (the addon cannot unshare from Node's
 * threads; a posix_spawn of it costs ~2 ms where unshare(1) through
 * node:child_process costs 10-40). /run is a tmpfs: a reboot drops them all.
 */
import fs from 'node:fs';
import path from 'node:path';
import { native, MNT_DETACH } from '../../native.js';
import { syscallError, TsrunError } from '../../util/errors.js';
import { writeFully } from '../../util/fdwrite.js';

export const NETNS_DIR = '/run/tsrun/netns';

export function netnsPath(id: string): string {
  return path.join(NETNS_DIR, id);
}

export function createNetns(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  fs.writeFileSync(file, '', { mode: 0o444 });
  const n = native();
  const child = n.spawnLauncher(n.initPath(), false);
  let line = '';
  try {
    try {
      writeFully(child.planFd, Buffer.from(`netns=${file}\0`));
    } finally {
      fs.closeSync(child.planFd);
    }
    const buf = Buffer.alloc(512);
    for (let k; (k = fs.readSync(child.statusFd, buf, 0, buf.length, null)) > 0; ) line += buf.toString('utf8', 0, k);
  } finally {
    fs.closeSync(child.statusFd);
    n.waitpid(child.pid, true);
  }
  if (!line.startsWith('ok')) {
    fs.rmSync(file, { force: true });
    const f = line.trim().split('\t');
    throw new TsrunError('SYSCALL', `cannot create network namespace ${file}: ${f[1] ?? 'launcher failed'} (errno ${f[2] ?? '?'})`, { hint: 'tsrun needs root' });
  }
}

/** Unmount and delete; a file that is no mount point (never made, or unmounted already) is just deleted. */
export function removeNetns(file: string): void {
  try {
    native().umount2(file, MNT_DETACH);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOENT') throw syscallError(`cannot unmount ${file}`, err);
  }
  fs.rmSync(file, { force: true });
}
