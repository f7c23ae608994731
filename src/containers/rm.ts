/**
 * rm: remove a container record and everything it owns. A running container
 * is refused unless forced (then killed first). The order makes a crash at
 * any point safe: kill → cgroup → rename the dir to a trash name (from then
 * on it is never listed) → mounts below it (e.g. left by a tsrun killed
 * mid-export) → delete it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { conflict, syscallError, TsrunError } from '../util/errors.js';
import { cancelPendingRestart, isRestarting } from './restart-policy.js';
import { native, MNT_DETACH } from '../native.js';
import { mountsBelow } from '../util/mountinfo.js';
import type { Container } from './record.js';
import { isRunning, releaseCgroup } from './status.js';
import { transition } from './transition.js';
import { signalContainer, parseSignal } from './kill.js';
import { waitForExit } from './wait.js';
import { cgroupPids } from '../runtime/cgroups.js';
import { randomHex } from '../util/builtins.js';
import { removeTree } from '../util/rmtree.js';
import { teardownNetwork } from '../runtime/network/attach.js';
import { removeAnonymousVolumes } from './volume-users.js';

export interface RmOptions {
  force?: boolean;
  /** -v: also remove the container's anonymous volumes (--rm containers always do) */
  volumes?: boolean;
  /** prune: leave it (and return false) when it turns out to be running or paused under its lock. */
  onlyStopped?: boolean;
}

export function unmountBelow(dir: string): void {
  for (let round = 0; round < 5; round++) {
    const mounts = mountsBelow(dir);
    if (!mounts.length) return;
    for (const m of mounts) {
      try {
        native().umount2(m, MNT_DETACH);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EINVAL' && code !== 'ENOENT') throw syscallError(`cannot unmount ${m}`, err);
      }
    }
  }
}

/**
 * Delete a container dir: rename it out of the listing first, so a
 * half-deleted container never shows. Mounts below it (a tsrun killed
 * mid-export) move with the rename and are detached from the trash name.
 */
export function removeDir(ctx: Ctx, dir: string): void {
  const trash = path.join(ctx.containersDir, `.trash-${path.basename(dir).slice(0, 12)}-${randomHex(4)}`);
  try {
    fs.renameSync(dir, trash);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw syscallError(`cannot remove container dir ${dir}`, err);
  }
  unmountBelow(trash);
  removeTree(trash);
}

/** One locked transition: a start waiting for the lock then finds the container gone. */
export async function removeContainer(ctx: Ctx, c0: Container, opts: RmOptions = {}): Promise<boolean> {
  return transition(ctx, c0, opts.force ? 'rm -f' : 'rm', async (c) => {
    if (isRunning(c) && opts.onlyStopped) return false;
    // docker counts a container waiting to restart as running: prune leaves it, rm wants -f
    if (isRestarting(c)) {
      if (opts.onlyStopped) return false;
      if (!opts.force) throw conflict(`cannot remove container "/${c.config.name}": container is restarting: stop the container before removing or force remove`, 'tsrun stop it first, or use rm -f');
      cancelPendingRestart(c);
    }
    if (isRunning(c)) {
      signalContainer(ctx, c, parseSignal('KILL'));
      const exited = await waitForExit(ctx, c, 10_000, true);
      if (!exited || isRunning(exited)) throw new TsrunError('SYSCALL', `container ${c.config.name} did not exit after SIGKILL`, { hint: 'try again in a moment' });
      c = exited;
    }
    // a created-but-never-started or crashed container may still have processes in its cgroup
    if (cgroupPids(c.config.id, ctx).length) signalContainer(ctx, c, parseSignal('KILL'));
    releaseCgroup(ctx, c.config.id);
    teardownNetwork(ctx, c);
    removeDir(ctx, c.dir);
    if (opts.volumes || c.config.host.autoRemove) await removeAnonymousVolumes(ctx, c.config.host.mounts);
    return true;
  });
}

/**
 * Remove leftovers: trash dirs of an interrupted rm, and container dirs
 * without config.json (a create that was killed) older than a minute (a
 * younger one may be a create still in progress).
 */
export function sweepContainers(ctx: Ctx, minAgeMs = 60_000): void {
  let names: string[];
  try {
    names = fs.readdirSync(ctx.containersDir);
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(ctx.containersDir, name);
    try {
      if (name.startsWith('.trash-')) {
        unmountBelow(dir);
        removeTree(dir);
      } else if (/^[a-f0-9]{64}$/.test(name) && !fs.existsSync(path.join(dir, 'config.json'))) {
        if (Date.now() - fs.statSync(dir).mtimeMs < minAgeMs) continue;
        releaseCgroup(ctx, name);
        removeDir(ctx, dir);
      }
    } catch {
      /* best effort; the next rm tries again */
    }
  }
}
