/**
 * The container's root directory as an open fd, for `cp` to read from or write into.
 *
 * - Running (or paused): `/proc/PID/root` of its process 1, opened once. The fd is the container's
 *   own root as its mount namespace shows it, volumes and tsrun's bind mounts included; lookups
 *   through it (util/confined-dir.ts) stay in that mount tree. Writes go through the container's own
 *   overlay, so the kernel does the copy-up and whiteout work and the running processes see the
 *   files at once. (Writing into a live overlay's upper dir from outside is undefined behaviour for
 *   overlayfs: cached lookups inside may never see the new file.) Entering the mount namespace was
 *   the other choice; it needs a process inside it (Node cannot setns one thread), for no gain in
 *   confinement: the fd-based walk is what confines, not the namespace.
 * - Created or stopped: tsrun mounts the container's overlay itself in a dot-dir of the container
 *   (as `export` does): read-only (upper on top of the layers) to read; for writing, read-write with
 *   the container's own upper and work dirs and run's options, so what is written is exactly what
 *   the container will see at its next start. The container's lock is held throughout, so it cannot
 *   start meanwhile (two overlays on one upper dir).
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { mkdirInStore, noStore, type Ctx } from '../../context.js';
import { syscallError, TsrunError } from '../../util/errors.js';
import { native, MNT_DETACH } from '../../native.js';
import { ConfinedDir } from '../../util/confined-dir.js';
import type { Container } from '../../containers/record.js';
import { procStartTime } from '../../containers/status.js';
import { transitionSync } from '../../containers/transition.js';

export interface ContainerRoot {
  root: ConfinedDir;
  /** The container is running: its processes may change the tree meanwhile. */
  live: boolean;
}

/** Run fn on the container's root with its lock held; `write`: mounted read-write when it is not running. */
export function withContainerRoot<T>(ctx: Ctx, c0: Container, write: boolean, fn: (r: ContainerRoot) => T): T {
  return transitionSync(ctx, c0, 'cp', (c) => {
    if ((c.state.status === 'running' || c.state.status === 'paused') && c.state.pid) return withLiveRoot(c, fn);
    return withMountedRoot(ctx, c, write, fn);
  });
}

function withLiveRoot<T>(c: Container, fn: (r: ContainerRoot) => T): T {
  const pid = c.state.pid!;
  let root: ConfinedDir;
  try {
    root = ConfinedDir.openFollowing(`/proc/${pid}/root`);
  } catch (err) {
    throw syscallError(`cannot open the root of container ${c.config.name}`, err);
  }
  try {
    // the PID may have been reused between the refresh and the open: the start time says
    if (procStartTime(pid) !== c.state.pidStart) throw new TsrunError('CONFLICT', `container ${c.config.name} stopped meanwhile`, { hint: 'try again' });
    return fn({ root, live: true });
  } finally {
    root.close();
  }
}

function withMountedRoot<T>(ctx: Ctx, c: Container, write: boolean, fn: (r: ContainerRoot) => T): T {
  const mnt = path.join(c.dir, `.export-cp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(mnt, { mode: 0o700 });
  const layers = [...c.config.layers].reverse().map((l) => ctx.layers.diffDir(l));
  const upper = path.join(c.dir, 'upper');
  let mounted = false;
  try {
    try {
      if (write) {
        if (!mkdirInStore(ctx, path.join(c.dir, 'work'))) throw noStore(ctx);
        // run's options (runtime/plan.ts): the upper dir must stay readable by the container's next mount
        const empty = path.join(c.dir, 'empty'); // run's lower for an image without layers
        if (!layers.length && !mkdirInStore(ctx, empty, 0o755)) throw noStore(ctx);
        native().mountOverlay(mnt, { lowerdirs: layers.length ? layers : [empty], upperdir: upper, workdir: path.join(c.dir, 'work'), options: { redirect_dir: 'off', metacopy: 'off', index: 'off' } });
      } else {
        const lowers = [upper, ...layers].filter((d) => fs.existsSync(d));
        // overlay needs two lowers without an upper; a lone dir (an image without layers) is read as it is
        if (lowers.length === 1) return readDir(lowers[0]!, fn);
        native().mountOverlay(mnt, { lowerdirs: lowers, readonly: true, options: { index: 'off' } });
      }
    } catch (err) {
      throw syscallError(`cannot mount the root filesystem of container ${c.config.name}`, err);
    }
    mounted = true;
    const root = ConfinedDir.open(mnt);
    try {
      return fn({ root, live: false });
    } finally {
      root.close();
    }
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

function readDir<T>(dir: string, fn: (r: ContainerRoot) => T): T {
  const root = ConfinedDir.open(dir);
  try {
    return fn({ root, live: false });
  } finally {
    root.close();
  }
}
