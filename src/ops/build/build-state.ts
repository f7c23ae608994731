/**
 * A build stage's state (its config, layers and cache key as the steps so far left it) and the
 * stores under it: its layers unpacked as lower dirs, a new layer adopted, another stage's
 * filesystem mounted for a step.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { native, MNT_DETACH } from '../../native.js';
import type { Ctx } from '../../context.js';
import { withContentLock } from '../../context.js';
import type { Descriptor, HistoryEntry, ImageConfig, Manifest } from '../../oci/types.js';
import { MT, layerMediaType } from '../../oci/mediatypes.js';
import { chainIdOf } from '../../images/unpack.js';
import type { ImageRecord } from '../../images/store.js';
import type { LayerTemps } from '../commit-layer.js';
import { syscallError } from '../../util/errors.js';
import type { Image } from '../../images/store.js';

/** A stage's filesystem and config as the steps so far left it. */
export interface State {
  config: ImageConfig;
  layers: Descriptor[];
  chainIds: string[];
  key: string;
  /** The stage's base image record (the RUN containers name it as their image). */
  record: ImageRecord;
}

/** An image as a stage's starting state (FROM, COPY --from, RUN --mount from=). */
export function stateOfImage(img: Image): State {
  return { config: img.config, layers: img.manifest.layers, chainIds: img.chainIds, key: img.record.id, record: img.record };
}

export function manifestOf(s: State): Manifest {
  return { schemaVersion: 2, mediaType: MT.OCI_MANIFEST, config: { mediaType: MT.OCI_CONFIG, digest: '', size: 0 }, layers: s.layers };
}

/** Unpack the state's layers (a committed one is only registered) and return their dirs, topmost first. */
export async function lowers(ctx: Ctx, s: State): Promise<string[]> {
  if (!s.chainIds.every((id) => ctx.layers.has(id))) {
    const { ensureImageLayers } = await import('../../images/unpack.js');
    await withContentLock(ctx, () => ensureImageLayers(ctx, manifestOf(s), s.config));
  }
  return [...s.chainIds].reverse().map((id) => ctx.layers.diffDir(id));
}

export function addLayer(ctx: Ctx, s: State, diffId: string, size: number, contentBytes: number, temps?: LayerTemps): void {
  const parent = s.chainIds[s.chainIds.length - 1] ?? null;
  const chainId = chainIdOf(parent, diffId);
  if (temps) {
    if (ctx.content.has(diffId)) {
      // a layer the store holds already (the same COPY again): its temp is removed on the thread pool
      // while the build goes on (unlinking 100 MB costs ext4 ~50 ms), and no longer the step's cleanup's
      // to remove; one a kill leaves is swept later (its name starts with our PID)
      fs.rm(temps.blobTmp, { force: true }, () => {});
      temps.blobTmp = '';
    } else ctx.content.adopt(temps.blobTmp, diffId);
    if (!ctx.layers.known(chainId)) ctx.layers.register({ chainId, diffId, parent, size: contentBytes });
  }
  s.layers = [...s.layers, { mediaType: layerMediaType('oci', 'none'), digest: diffId, size }];
  s.chainIds = [...s.chainIds, chainId];
  s.config = { ...s.config, rootfs: { type: 'layers', diff_ids: [...(s.config.rootfs?.diff_ids ?? []), diffId] } };
}

export function pushHistory(s: State, h: HistoryEntry): void {
  s.config = { ...s.config, history: [...(s.config.history ?? []), h] };
}

/** A cached step is usable only while its layer is still in the stores. */
export function usable(ctx: Ctx, s: State, diffId: string | undefined): boolean {
  if (!diffId) return true;
  const chainId = chainIdOf(s.chainIds[s.chainIds.length - 1] ?? null, diffId);
  return ctx.content.has(diffId) && ctx.layers.known(chainId);
}

export const secs = (ms: number) => (ms / 1000).toFixed(1) + 's';

/**
 * Another stage's filesystem, read-only: its layers as one overlay (unmounted by the step's
 * cleanups). `sealed` adds nodev/nosuid/noexec (COPY only reads it; a RUN mount runs it).
 */
export function mountView(ctx: Ctx, dirs: string[], cleanups: (() => void)[], sealed = true): string {
  const mnt = path.join(ctx.tmpDir, `${process.pid}-from-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(mnt, { mode: 0o700 });
  cleanups.push(() => fs.rmdirSync(mnt));
  try {
    native().mountOverlay(mnt, { lowerdirs: dirs, readonly: sealed, options: { index: 'off' } });
  } catch (err) {
    throw syscallError(`cannot mount a stage's filesystem for COPY --from`, err);
  }
  cleanups.push(() => native().umount2(mnt, MNT_DETACH));
  return mnt;
}

export function emptyDir(ctx: Ctx, cleanups: (() => void)[]): string {
  const d = path.join(ctx.tmpDir, `${process.pid}-from-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(d, { mode: 0o700 });
  cleanups.push(() => fs.rmdirSync(d));
  return d;
}
