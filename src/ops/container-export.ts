/**
 * `export`: the container's merged root filesystem as a tar stream, for a
 * running or stopped container. tsrun mounts its own read-only overlay
 * (lowerdirs = the container's upper dir on top of the image layers) so it
 * never touches the container's own mount namespace; whiteouts and opaque dirs
 * are resolved by the kernel and so never appear in the archive.
 *
 * The mount point is a dot-dir inside the container dir: if tsrun is killed
 * mid-export, `rm` finds and unmounts it with the container.
 *
 * Tar writing reuses the commit engineer's walker (src/diff/walk.ts, plain
 * mode) and writer (src/diff/tar-writer.ts): sorted order, owners, modes,
 * mtimes, symlinks, hardlinks, devices, xattrs.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Ctx } from '../context.js';
import { syscallError, TsrunError } from '../util/errors.js';
import { tempName, fsyncDir } from '../util/atomic.js';
import { writeFully } from '../util/fdwrite.js';
import { native, MNT_DETACH, MS } from '../native.js';
import type { Container } from '../containers/record.js';
import { transitionSync } from '../containers/transition.js';
import { walkTree } from '../diff/walk.js';
import { TarWriter, type TarType } from '../diff/tar-writer.js';

function major(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}
function minor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}

/** Tar the tree at `root` (all of it, sorted) into fd: a read-only view mounted nodev (withMergedView). */
export function tarTree(root: string, fd: number): void {
  const w = new TarWriter((chunk) => writeFully(fd, chunk), 1 << 20);
  walkTree(root, { mode: 'plain', openFiles: true, directOpen: true }, (e) => {
    const base = {
      name: e.rel,
      mode: e.st.mode,
      uid: e.st.uid,
      gid: e.st.gid,
      mtime: Math.floor(e.st.mtimeMs / 1000),
      xattrs: e.xattrs,
      size: 0,
    };
    switch (e.kind) {
      case 'file':
        // opened by the walker through its confined directory fds: a name swapped for a symlink is never followed
        w.header({ ...base, type: 'file', size: e.st.size });
        w.fileData(e.fd!, e.st.size);
        return;
      case 'char':
      case 'block':
        w.header({ ...base, type: e.kind, devmajor: major(e.st.rdev), devminor: minor(e.st.rdev) });
        return;
      case 'dir':
      case 'fifo':
        w.header({ ...base, type: e.kind });
        return;
      case 'symlink':
      case 'link':
        w.header({ ...base, type: e.kind as TarType, linkname: e.linkname });
        return;
      default:
        return; // whiteouts do not exist in a merged view
    }
  });
  w.finish();
}

/** Mount the container's merged view read-only, run fn on it, unmount. */
export function withMergedView<T>(ctx: Ctx, c: Container, fn: (merged: string) => T): T {
  const mnt = path.join(c.dir, `.export-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(mnt, { mode: 0o700 });
  const lowers = [path.join(c.dir, 'upper'), ...[...c.config.layers].reverse().map((l) => ctx.layers.diffDir(l))].filter((d) => fs.existsSync(d));
  let mounted = false;
  try {
    if (lowers.length === 1) {
      // overlay needs two lower layers without an upper: a lone layer is bind-mounted instead
      native().mount(lowers[0]!, mnt, null, MS.BIND, null);
      mounted = true;
      // a view like the overlay's: no device node in it opens (tarTree opens files in one step)
      native().mount(null, mnt, null, MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NODEV | MS.NOSUID | MS.NOEXEC, null);
    } else {
      native().mountOverlay(mnt, { lowerdirs: lowers, readonly: true, options: { index: 'off' } });
    }
    mounted = true;
    return fn(mnt);
  } catch (err) {
    if (err instanceof TsrunError) throw err;
    if (!mounted) throw syscallError(`cannot mount the root filesystem of container ${c.config.name}`, err);
    throw err;
  } finally {
    if (mounted) {
      try {
        native().umount2(mnt, MNT_DETACH);
      } catch {
        /* rm sweeps it */
      }
    }
    try {
      fs.rmdirSync(mnt);
    } catch {
      /* already gone */
    }
  }
}

/** Export to `outFile` (written atomically) or to fd 1. */
export function exportContainer(ctx: Ctx, c0: Container, outFile?: string): void {
  // under the container's lock: an rm or start cannot pull the dirs from under the merged view
  transitionSync(ctx, c0, 'export', (c) => withMergedView(ctx, c, (merged) => {
    if (!outFile) return tarTree(merged, 1);
    const target = path.resolve(outFile);
    const tmp = tempName(target);
    const fd = fs.openSync(tmp, 'wx', 0o644);
    try {
      tarTree(merged, fd);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(tmp, target);
      fsyncDir(path.dirname(target));
    } catch (err) {
      try {
        fs.closeSync(fd);
      } catch {
        /* closed */
      }
      fs.rmSync(tmp, { force: true });
      throw syscallError(`cannot write ${target}`, err);
    }
  }));
}
