/**
 * compare: an overlay upper dir → an OCI layer tar (and, optionally, the same
 * layer unpacked in overlay form for the layer store), in one pass.
 *
 *  - overlay whiteout (char 0/0) NAME   → empty regular file `.wh.NAME`
 *  - dir with trusted.overlay.opaque=y  → the dir, then `DIR/.wh..wh..opq`
 *  - other trusted.overlay.* xattrs     → dropped; every other xattr → pax SCHILY.xattr.*
 *  - hardlinks inside the layer         → first occurrence a file, later ones tar hardlinks
 *  - sockets                            → skipped
 *
 * Deterministic: the same tree gives the same bytes (sorted names, integer
 * mtimes, no atime/ctime, no user/group names). `clampMtime` (SOURCE_DATE_EPOCH,
 * --timestamp) sets every later mtime to it, in the tar and in the copy.
 *
 * Speed: the walk is synchronous (readdir/lstat/readSync straight into the
 * tar buffer); for commit, hashing and writing the tar run on a second thread
 * meanwhile (blob-writer.ts), as `tar | sha256sum` uses two cores.
 */
import fs from 'node:fs';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { native } from '../native.js';
import { syscallError } from '../util/errors.js';
import { TarWriter, type TarHeader } from './tar-writer.js';
import { walkTree, type WalkEntry, type WalkOptions } from './walk.js';
import { BlobWriter, type BlobWriterOptions } from './blob-writer.js';

export interface CompareOptions extends WalkOptions {
  /** Unix seconds: every later mtime becomes this. */
  clampMtime?: number;
  /** writeLayerFile: fdatasync the tar before returning (default true). */
  sync?: boolean;
  /** writeLayerFile: ...but not when this says the diff_id needs none (the store already holds that blob). */
  skipSync?: (diffId: string) => boolean;
}

export interface LayerStats {
  /** Entries in the layer (whiteouts and opaque markers included). */
  entries: number;
  /** Bytes of regular-file data. */
  contentBytes: number;
}

export interface LayerResult extends LayerStats {
  /** sha256 of the uncompressed tar: the layer's diff_id (and its blob digest, uncompressed). */
  diffId: string;
  /** Size of the tar in bytes. */
  size: number;
}

const WH = '.wh.';
const OPQ = '.wh..wh..opq';
const { O_WRONLY, O_CREAT, O_EXCL } = fs.constants;

function mtimeOf(st: fs.Stats, clamp: number | undefined): number {
  const m = Math.floor(st.mtimeMs / 1000);
  return clamp !== undefined && m > clamp ? clamp : m;
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

/** Linux dev_t split, as glibc's major()/minor() do. */
export function major(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}

export function minor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
}

/**
 * Write the layer tar of `upper` into `sink` (synchronously, in large chunks).
 * Throws SYSCALL/PERMISSION TsrunErrors naming the entry that failed.
 */
export function writeLayer(upper: string, sink: (chunk: Buffer) => void, opts: CompareOptions = {}): LayerStats {
  return writeLayerTo(upper, new TarWriter(sink), opts);
}

function writeLayerTo(upper: string, tar: TarWriter, opts: CompareOptions): LayerStats {
  const clamp = opts.clampMtime;
  const stats: LayerStats = { entries: 0, contentBytes: 0 };
  walkTree(upper, { ...opts, openFiles: true }, (e) => {
    try {
      addEntry(tar, e, clamp, stats);
    } catch (err) {
      throw syscallError(`committing ${JSON.stringify('/' + e.rel)}`, err);
    }
  });
  tar.finish();
  return stats;
}

function addEntry(tar: TarWriter, e: WalkEntry, clamp: number | undefined, stats: LayerStats): void {
  const { st } = e;
  const mtime = mtimeOf(st, clamp);
  stats.entries++;
  const base: Omit<TarHeader, 'name' | 'type'> = { mode: st.mode, uid: st.uid, gid: st.gid, size: 0, mtime, xattrs: e.xattrs };
  switch (e.kind) {
    case 'whiteout': {
      const parent = parentOf(e.rel);
      const name = (parent ? parent + '/' : '') + WH + baseOf(e.rel);
      tar.header({ ...base, name, type: 'file', mode: 0o600, xattrs: undefined });
      return;
    }
    case 'dir':
      tar.header({ ...base, name: e.rel, type: 'dir' });
      if (e.opaque) {
        stats.entries++;
        tar.header({ name: e.rel + '/' + OPQ, type: 'file', mode: st.mode & 0o777, uid: st.uid, gid: st.gid, size: 0, mtime });
      }
      return;
    case 'file': {
      // opened by the walker through its confined directory fds (never by a path from the root)
      tar.header({ ...base, name: e.rel, type: 'file', size: st.size });
      tar.fileData(e.fd!, st.size);
      stats.contentBytes += st.size;
      return;
    }
    case 'link':
      tar.header({ ...base, name: e.rel, type: 'link', linkname: e.linkname, xattrs: undefined });
      return;
    case 'symlink':
      tar.header({ ...base, name: e.rel, type: 'symlink', linkname: e.linkname });
      return;
    case 'char':
    case 'block':
    case 'fifo':
      tar.header({ ...base, name: e.rel, type: e.kind, devmajor: major(st.rdev), devminor: minor(st.rdev) });
      return;
  }
}

/**
 * Write the layer tar of `upper` to `file` (created, must not exist), hashing
 * it on the way and syncing it to disk. The fast path used by commit: a big
 * tar is hashed and written on a second thread while the walk goes on
 * (blob-writer.ts), a small one here at the end. The bytes are the same
 * either way. On failure the file is left for the caller to remove, and
 * nothing writes to it any more.
 */
export function writeLayerFile(upper: string, file: string, opts: CompareOptions & { pipeline?: BlobWriterOptions } = {}): LayerResult {
  const fd = fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL, 0o644);
  try {
    const blob = new BlobWriter(fd, { ...opts.pipeline, sync: opts.sync, skipSync: opts.skipSync });
    let stats: LayerStats;
    try {
      stats = writeLayerTo(upper, new TarWriter((chunk) => blob.push(chunk), blob.first()), opts);
    } catch (err) {
      blob.abort();
      throw err;
    }
    const { digest, size } = blob.finish();
    return { ...stats, diffId: digest, size };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The layer tar of `upper` as a Readable, with its diff_id and size once it
 * has been read to the end. The tar is built in memory before the first byte
 * is read: meant for tests and small trees; commit uses writeLayerFile.
 */
export function layerStream(upper: string, opts: CompareOptions = {}): { stream: Readable; result: Promise<LayerResult> } {
  const chunks: Buffer[] = [];
  const hash = crypto.createHash('sha256');
  let size = 0;
  let stats: LayerStats;
  try {
    stats = writeLayer(
      upper,
      (c) => {
        chunks.push(c);
        hash.update(c);
        size += c.length;
      },
      opts,
    );
  } catch (err) {
    const stream = new Readable({ read() {} });
    stream.destroy(err as Error);
    const result = Promise.reject(err);
    result.catch(() => {}); // the stream carries the error too; do not make it an unhandled rejection
    return { stream, result };
  }
  const result: LayerResult = { ...stats, diffId: `sha256:${hash.digest('hex')}`, size };
  return { stream: Readable.from(chunks, { objectMode: false }), result: Promise.resolve(result) };
}
