/**
 * The stores of one tsrun root, opened together. Every operation takes a Ctx
 * explicitly (no globals). Opening is cheap: directories are created if
 * missing and nothing is read until asked for.
 *
 * Locks:
 *  - ROOT/gc.lock: shared by every operation that adds blobs, layers or
 *    containers (so a layer it has just made cannot be collected before the
 *    image or container that uses it is recorded); exclusive for garbage
 *    collection (rmi, prune, rm).
 *  - images/index.lock (ImageStore.update) for the image index itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ContentStore } from './content/store.js';
import { LayerStore } from './layers/store.js';
import { ImageStore } from './images/store.js';
import { lockExclusive, lockShared } from './util/lock.js';
import { syscallError } from './util/errors.js';

export interface Ctx {
  root: string;
  debug: boolean;
  content: ContentStore;
  layers: LayerStore;
  images: ImageStore;
  /** ROOT/containers */
  containersDir: string;
  /** ROOT/tmp, on the store's filesystem */
  tmpDir: string;
}

export const DEFAULT_ROOT = '/var/lib/tsrun';

export function openCtx(root: string, debug = false): Ctx {
  const abs = path.resolve(root);
  try {
    fs.mkdirSync(abs, { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.join(abs, 'containers'), { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.join(abs, 'tmp'), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw syscallError(`cannot create the tsrun root ${abs}`, err);
  }
  const content = new ContentStore(abs);
  return {
    root: abs,
    debug,
    content,
    layers: new LayerStore(abs),
    images: new ImageStore(abs, content),
    containersDir: path.join(abs, 'containers'),
    tmpDir: path.join(abs, 'tmp'),
  };
}

/** Run fn while holding the shared GC lock (adds content that must not be collected mid-way). */
export async function withContentLock<T>(ctx: Ctx, fn: () => Promise<T>): Promise<T> {
  const lock = lockShared(path.join(ctx.root, 'gc.lock'));
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** Run fn while holding the exclusive GC lock: no other process is adding content. */
export async function withGcLock<T>(ctx: Ctx, fn: () => Promise<T>): Promise<T> {
  const lock = lockExclusive(path.join(ctx.root, 'gc.lock'));
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
