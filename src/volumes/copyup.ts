/**
 * docker's copy-up: a volume that is empty when a container is created gets
 * the image's content at the mount's path (files, owners, modes, xattrs,
 * symlinks as symlinks), and the volume's root takes the owner and mode of
 * the image's directory, so `-v data:/var/lib/app` starts from what the image
 * ships there.
 *
 * The image is read through a read-only overlay of its layers mounted under
 * ROOT/tmp (overlay hides whiteouts and merges opaque dirs as the container
 * would see them), the path is resolved inside that mount (an image's symlink
 * can never lead the copy to a host path), and `cp -a` copies it without
 * following symlinks. The layer dirs are read-only and never change, so the
 * resolution cannot be raced. A mount left by a tsrun killed mid-copy is
 * swept (by its dead PID in the name) the next time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Ctx } from '../context.js';
import { native, MNT_DETACH } from '../native.js';
import { resolveInRoot } from '../util/paths.js';
import { syscallError, TsrunError } from '../util/errors.js';
import { mountsBelow } from '../util/mountinfo.js';
import { randomHex } from '../util/builtins.js';
import { removeTreeTolerant } from '../util/rmtree.js';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sweepDeadCopyMounts(ctx: Ctx): void {
  for (const name of fs.readdirSync(ctx.tmpDir)) {
    const m = /^(\d+)-copyup-/.exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    const dir = path.join(ctx.tmpDir, name);
    for (const mp of mountsBelow(dir)) native().umount2(mp, MNT_DETACH);
    removeTreeTolerant(dir);
  }
}

/** The image's merged layers (topmost first) mounted read-only for fn. */
export function withImageView<T>(ctx: Ctx, lowers: string[], fn: (root: string) => T): T {
  sweepDeadCopyMounts(ctx);
  const top = path.join(ctx.tmpDir, `${process.pid}-copyup-${randomHex(4)}`);
  const mnt = path.join(top, 'merged');
  const empty = path.join(top, 'empty');
  fs.mkdirSync(top, { mode: 0o700 });
  fs.mkdirSync(mnt, { mode: 0o700 });
  fs.mkdirSync(empty, { mode: 0o755 });
  try {
    try {
      // overlay without an upper dir needs two lowers at least: an empty one at the bottom
      native().mountOverlay(mnt, { lowerdirs: [...lowers, empty], readonly: true, options: { index: 'off' } });
    } catch (err) {
      throw syscallError(`cannot mount the image's filesystem to copy it into a volume`, err);
    }
    try {
      return fn(mnt);
    } finally {
      native().umount2(mnt, MNT_DETACH);
    }
  } finally {
    removeTreeTolerant(top);
  }
}

/**
 * Copy what the image has at `containerPath` into `dataDir` (an empty volume).
 * Nothing happens when the image has no directory there.
 */
export function copyImagePath(root: string, containerPath: string, dataDir: string): void {
  const src = resolveInRoot(root, containerPath);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(src);
  } catch {
    return;
  }
  if (!st.isDirectory()) return;
  // `SRC/.` onto the existing volume root: the contents, and the root's own owner, mode and times
  const r = spawnSync('cp', ['-a', '--', `${src}/.`, `${dataDir}/`], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.error || r.status !== 0) {
    const why = (r.stderr ?? '').trim().split('\n')[0] || r.error?.message || `cp exited ${r.status}`;
    throw new TsrunError('SYSCALL', `cannot copy the image's ${containerPath} into its volume: ${why}`, { hint: 'check the store filesystem; use nocopy to skip the copy' });
  }
}
