/**
 * The stores of one tsrun root, opened together. Every operation takes a Ctx
 * explicitly (no globals). Opening is cheap: nothing is read until asked for.
 *
 * Only the commands that can add to a store that does not exist yet (run,
 * create, pull, load, import, build, network and volume create) open it with
 * `create`, which makes the root and its layout. Every other command, and every
 * background job (a monitor's `rm -f`, `__on-exit`, a scheduled healthcheck),
 * creates no directory at all: a store that does not exist reads as empty (no
 * such container, image …), and a job that outlives its store (a temp root
 * removed under a running container, an `rm -rf` of --root) cannot make an
 * empty one there again. Below the root, code creates a directory only inside
 * one that exists (never `recursive` up to the root) for the same reason.
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
import { lockExclusive, lockShared, type Lock } from './util/lock.js';
import { hasCode, syscallError, TsrunError } from './util/errors.js';

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

export function openCtx(root: string, debug = false, create = true): Ctx {
  const abs = path.resolve(root);
  if (create) {
    try {
      fs.mkdirSync(abs, { recursive: true, mode: 0o700 });
      fs.mkdirSync(path.join(abs, 'containers'), { recursive: true, mode: 0o700 });
      fs.mkdirSync(path.join(abs, 'tmp'), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw syscallError(`cannot create the tsrun root ${abs}`, err);
    }
  }
  const content = new ContentStore(abs, create);
  return {
    root: abs,
    debug,
    content,
    layers: new LayerStore(abs, create),
    images: new ImageStore(abs, content, create),
    containersDir: path.join(abs, 'containers'),
    tmpDir: path.join(abs, 'tmp'),
  };
}

/**
 * Make dir, a directory below ROOT, and its missing parents up to ROOT but never
 * ROOT itself (as `recursive` would): false, and nothing made, when the store
 * does not exist (never made for this command, or removed meanwhile).
 * When dir exists: one stat (`recursive` made two syscalls).
 */
export function mkdirInStore(ctx: Ctx, dir: string, mode = 0o700): boolean {
  if (fs.existsSync(dir)) return true;
  const rel = path.relative(ctx.root, dir);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`mkdirInStore: ${dir} is not below ${ctx.root}`);
  let at = ctx.root;
  for (const part of rel.split(path.sep)) {
    at = path.join(at, part);
    try {
      fs.mkdirSync(at, { mode });
    } catch (err) {
      if (hasCode(err, 'ENOENT') && !fs.existsSync(ctx.root)) return false;
      if (!hasCode(err, 'EEXIST')) throw syscallError(`cannot create ${at}`, err);
    }
  }
  return true;
}

/** The error of a command that needs a store where there is none (see openCtx: nothing is made for it). */
export function noStore(ctx: Ctx): TsrunError {
  return new TsrunError('NOT_FOUND', `no tsrun store at ${ctx.root}`, { hint: 'pull, load, import or run an image first, or check --root' });
}

/** The GC lock, or undefined when the store does not exist (ROOT/gc.lock cannot be made: ENOENT). */
function gcLock(ctx: Ctx, take: (file: string) => Lock): Lock | undefined {
  try {
    return take(path.join(ctx.root, 'gc.lock'));
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/**
 * Run fn while holding the shared GC lock (adds content that must not be collected mid-way).
 * A store that does not exist has nothing to collect: fn runs without it (a reader finds no
 * image; a writer, whose store was removed under it, fails on its first write, making nothing).
 */
export async function withContentLock<T>(ctx: Ctx, fn: () => Promise<T>): Promise<T> {
  const lock = gcLock(ctx, lockShared);
  if (!lock) return fn();
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * Run fn while holding the exclusive GC lock: no other process is adding content.
 * A store that does not exist has nothing to collect: `ifMissing` gives the
 * result then (fn does not run: without the lock, a first pull making the store
 * meanwhile could lose what it adds), else the command fails with noStore.
 */
export async function withGcLock<T>(ctx: Ctx, fn: () => Promise<T>, ifMissing?: () => T): Promise<T> {
  const lock = gcLock(ctx, lockExclusive);
  if (!lock) {
    if (ifMissing) return ifMissing();
    throw noStore(ctx);
  }
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
