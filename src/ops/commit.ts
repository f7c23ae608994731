/**
 * `tsrun commit CONTAINER [REPOSITORY[:TAG]]`: the container's changes become
 * a new layer on top of its image, and a new image.
 *
 * Order (each step only after the previous one is complete, so a commit killed
 * at any point leaves no image, tag or layer half-made, only temp files):
 *   1. check the inputs (reference, --change lines, container, parent image)
 *   2. freeze the container (default while it runs, as docker and podman do:
 *      a consistent snapshot beats a few ms of pause) and write the layer tar
 *      into a content-store temp file while copying it into a layer-store temp
 *      dir, then thaw
 *   3. under the shared content lock: adopt the blob, adopt the layer dir,
 *      put the config and manifest, and record the image (last)
 * An empty diff adds no layer: only a history entry with empty_layer, as docker.
 */
import type { Ctx } from '../context.js';
import { withContentLock } from '../context.js';
import { findContainer, type Container } from '../containers/record.js';
import { refresh } from '../containers/status.js';
import { transition } from '../containers/transition.js';
import { freezeCgroup, thawCgroup } from '../runtime/cgroups.js';
import { applyChanges } from '../images/change.js';
import { normaliseTag } from '../images/store.js';
import { storeImage } from './layers.js';
import { chainIdOf } from '../images/unpack.js';
import { buildCommitImage, type ManifestFormat } from './commit-image.js';
import { makeCommitLayer, removeTemps, type LayerTemps } from './commit-layer.js';
import { sha256 } from '../oci/digest.js';
import type { ImageRunConfig } from '../oci/types.js';
import { TsrunError, usageError } from '../util/errors.js';

/** The kernel's overlay lower-dir limit: an image with more layers cannot run. */
export const MAX_LAYERS = 500;

export interface CommitOptions {
  container: string;
  /** REPOSITORY[:TAG]; untagged when absent. */
  ref?: string;
  message?: string;
  author?: string;
  changes?: string[];
  /** Freeze a running container while its changes are read (default true). */
  pause?: boolean;
  format?: ManifestFormat;
  squash?: boolean;
  /** Unix seconds for created times and the mtime clamp; default: env SOURCE_DATE_EPOCH, else now and no clamp. */
  timestamp?: number;
}

export interface CommitResult {
  id: string;
  tags: string[];
  /** diff_id of the new layer; undefined when the diff was empty. */
  diffId?: string;
}

function sourceDateEpoch(): number | undefined {
  const v = process.env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw usageError(`invalid SOURCE_DATE_EPOCH ${JSON.stringify(v)}: not a number of seconds`);
  return Number(v);
}

/** docker's "created by" for a commit: the container's Path and Args joined by spaces. */
function createdBy(c: Container): string {
  return [c.config.path, ...(c.config.args ?? [])].filter((s) => s !== undefined && s !== '').join(' ');
}

/**
 * Freeze `c` while fn runs when asked and it is running; a container already
 * paused stays paused. The caller holds the container's lock, so a concurrent
 * pause/unpause/stop cannot interleave with our thaw, and a commit killed
 * while the container is frozen drops the lock: the next verb sees a frozen
 * running container nobody holds and thaws it (status.ts refreshLocked).
 */
function whileFrozen<T>(ctx: Ctx, c: Container, pause: boolean, fn: () => T): T {
  if (!pause || c.state.status !== 'running') return fn();
  try {
    freezeCgroup(c.config.id, ctx);
  } catch (err) {
    const e = err as TsrunError;
    throw new TsrunError(e.code ?? 'SYSCALL', `cannot pause container ${c.config.name} for commit: ${e.message}`, {
      hint: 'commit without pausing: --pause=false',
      cause: err,
    });
  }
  try {
    return fn();
  } finally {
    thawCgroup(c.config.id, ctx);
  }
}

export async function commitContainer(ctx: Ctx, o: CommitOptions): Promise<CommitResult> {
  const tags = o.ref ? [normaliseTag(o.ref)] : [];
  const format = o.format ?? 'oci';
  if (format !== 'oci' && format !== 'docker') throw usageError(`invalid --format ${JSON.stringify(format)}`, 'use oci or docker');
  const ts = o.timestamp ?? sourceDateEpoch();
  if (ts !== undefined && (!Number.isSafeInteger(ts) || ts < 0)) throw usageError(`invalid --timestamp ${ts}: seconds since the epoch`);
  const created = ts !== undefined ? new Date(ts * 1000).toISOString() : new Date().toISOString();

  const c = refresh(ctx, findContainer(ctx, o.container));
  const idx = ctx.images.read();
  const rec = idx.images[c.config.imageId];
  if (!rec) {
    throw new TsrunError('NOT_FOUND', `the image ${c.config.imageId.slice(7, 19)} of container ${c.config.name} is no longer in the store`, {
      hint: 'pull or load the image again',
    });
  }
  const parent = ctx.images.image(rec, idx);
  const runConfig: ImageRunConfig = applyChanges(structuredClone(parent.config.config ?? {}), o.changes ?? []);
  const squash = !!o.squash;

  return withContentLock(ctx, async () => {
    // under the container's lock: no start, rm or pause of it while its upper dir is read
    const temps: LayerTemps = await transition(ctx, c, 'commit', (cur) => {
      // only a running container committed with --pause=false changes its upper dir under the walk
      const stable = !(cur.state.status === 'running' && o.pause === false);
      return whileFrozen(ctx, cur, o.pause ?? true, () => makeCommitLayer(ctx, cur, { squash, clampMtime: ts, stable }));
    });
    try {
      const empty = temps.result.entries === 0 && !squash;
      const parentIds = parent.config.rootfs?.diff_ids ?? [];
      if (!empty && !squash && parentIds.length + 1 > MAX_LAYERS) {
        throw new TsrunError('TOO_LARGE', `image would have ${parentIds.length + 1} layers, more than the ${MAX_LAYERS} the kernel's overlayfs can mount`, {
          hint: 'commit with --squash to make one layer of the whole filesystem',
        });
      }
      const layer = empty ? undefined : { diffId: temps.result.diffId, size: temps.result.size };
      const img = buildCommitImage({
        parentConfig: parent.config,
        parentManifest: parent.manifest,
        runConfig,
        layer,
        squash,
        format,
        created,
        createdBy: createdBy(c),
        author: o.author,
        message: o.message,
      });
      if (layer) {
        ctx.content.adopt(temps.blobTmp, layer.diffId);
        const parentChain = squash ? null : (parent.chainIds[parent.chainIds.length - 1] ?? null);
        ctx.layers.register({
          chainId: chainIdOf(parentChain, layer.diffId),
          diffId: layer.diffId,
          parent: parentChain,
          size: temps.result.contentBytes,
        });
      } else {
        removeTemps(temps);
      }
      const manifest = img.manifest(sha256(img.config));
      const stored = storeImage(ctx, { manifest, manifestMediaType: img.manifestMediaType, config: img.config, tags });
      return { id: stored.id, tags, diffId: layer?.diffId };
    } catch (err) {
      removeTemps(temps); // force: already adopted ones are gone from the temp paths
      throw err;
    }
  });
}
