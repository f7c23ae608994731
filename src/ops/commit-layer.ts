/**
 * The layer half of commit: the container's changes (or, with --squash, its
 * whole merged filesystem) → a layer blob in a content-store temp file, in one
 * pass that also computes the diff_id. The layer store only registers the
 * layer; it is unpacked from the blob when a container first needs it
 * (ensureImageLayers at create), so commit reads the upper dir once and
 * writes 100 MB once, not twice.
 *
 * Nothing here is visible in the stores until the caller adopts the temp;
 * its name starts with our PID, so a commit killed with SIGKILL leaves only a
 * file that `sweepIngest` removes later.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { mkdirInStore, noStore, type Ctx } from '../context.js';
import type { Container } from '../containers/record.js';
import { writeLayerFile, type LayerResult } from '../diff/compare.js';
import { native, MNT_DETACH } from '../native.js';
import { syscallError } from '../util/errors.js';
import { mountsBelow } from '../util/mountinfo.js';
import { pidAlive } from '../content/store.js';
import { removeTreeTolerant } from '../util/rmtree.js';

/** Files tsrun bind-mounts into every container: never part of a commit. */
const ALWAYS_EXCLUDED = ['etc/hostname', 'etc/hosts', 'etc/resolv.conf'];

function relOf(p: string): string {
  return path.posix.normalize('/' + p).slice(1).replace(/\/$/, '');
}

/**
 * Paths of the container that are mount points of tsrun's own making (the
 * /etc files, volumes, tmpfs, bind targets): what the container sees there is
 * not in its upper dir, and the placeholders in the upper dir are not changes.
 */
export function excludedPaths(c: Container): Set<string> {
  const out = new Set<string>(ALWAYS_EXCLUDED);
  for (const m of c.config.host?.mounts ?? []) if (m.destination) out.add(relOf(m.destination));
  const extra = (c.config.host as unknown as Record<string, unknown> | undefined)?.bindTargets;
  if (Array.isArray(extra)) for (const p of extra) if (typeof p === 'string') out.add(relOf(p));
  out.delete('');
  return out;
}

export function upperDir(c: Container): string {
  return path.join(c.dir, 'upper');
}

/** The image's layer dirs, topmost first (overlay lowerdir order). */
export function lowerDirs(ctx: Ctx, c: Container): string[] {
  return [...c.config.layers].reverse().map((id) => ctx.layers.diffDir(id));
}

export interface LayerTemps {
  blobTmp: string;
  result: LayerResult;
}

export function removeTemps(t: { blobTmp?: string }): void {
  if (t.blobTmp) fs.rmSync(t.blobTmp, { force: true });
}

/**
 * Write the layer. With `squash`, the upper dir and every lower are mounted
 * read-only as one overlay (overlay itself hides whiteouts and opaque dirs'
 * lower contents) and that merged tree is walked as a plain tree.
 */
export function makeCommitLayer(ctx: Ctx, c: Container, opts: { squash: boolean; clampMtime?: number; stable?: boolean }): LayerTemps {
  const blobTmp = ctx.content.tempPath();
  try {
    const exclude = excludedPaths(c);
    // a layer the store already holds (the same change committed again) is dropped, not synced
    const skipSync = (digest: string) => ctx.content.has(digest);
    const upper = upperDir(c);
    if (!mkdirInStore(ctx, upper, 0o755)) throw noStore(ctx); // created, never started
    const lowers = lowerDirs(ctx, c);
    let result: LayerResult;
    if (!opts.squash) {
      result = writeLayerFile(upper, blobTmp, { exclude, lowers, clampMtime: opts.clampMtime, skipSync, directOpen: opts.stable });
    } else {
      result = withMergedView(ctx, upper, lowers, (merged) =>
        // the merged view is mounted nodev: files open in one step
        writeLayerFile(merged, blobTmp, { exclude, mode: 'plain', clampMtime: opts.clampMtime, skipSync, directOpen: true }),
      );
    }
    return { blobTmp, result };
  } catch (err) {
    removeTemps({ blobTmp });
    throw err;
  }
}

/**
 * Unmount and remove the merged-view mount points of squash commits whose
 * process died (SIGKILL between mount and unmount): they live on the host,
 * not in a container's mount namespace, so nothing else would clean them.
 */
function sweepDeadSquashMounts(ctx: Ctx): void {
  for (const name of fs.readdirSync(ctx.tmpDir)) {
    const m = /^(\d+)-squash-/.exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    const dir = path.join(ctx.tmpDir, name);
    for (const mp of mountsBelow(dir)) native().umount2(mp, MNT_DETACH);
    removeTreeTolerant(dir);
  }
}

function withMergedView<T>(ctx: Ctx, upper: string, lowers: string[], fn: (merged: string) => T): T {
  sweepDeadSquashMounts(ctx);
  const mnt = path.join(ctx.tmpDir, `${process.pid}-squash-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(mnt, { mode: 0o700 });
  try {
    try {
      // index=off: the upper dir may be in use as the running container's upperdir
      native().mountOverlay(mnt, { lowerdirs: [upper, ...lowers], readonly: true, options: { index: 'off' } });
    } catch (err) {
      throw syscallError(`cannot mount the container's merged filesystem for --squash`, err);
    }
    try {
      return fn(mnt);
    } finally {
      native().umount2(mnt, MNT_DETACH);
    }
  } finally {
    fs.rmdirSync(mnt);
  }
}
