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
 * Speed: everything is synchronous (readdir/lstat/readSync into one big
 * buffer, one sha256 over 8 MiB chunks). The copy into the layer dir writes
 * the bytes already read for the tar, so each file is read once.
 */
import fs from 'node:fs';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { native } from '../native.js';
import { syscallError, hasCode } from '../util/errors.js';
import { TarWriter, type TarHeader } from './tar-writer.js';
import { walkTree, type WalkEntry, type WalkOptions } from './walk.js';

export interface CompareOptions extends WalkOptions {
  /** Unix seconds: every later mtime becomes this. */
  clampMtime?: number;
  /** writeLayerFile: fdatasync the tar before returning (default true). */
  sync?: boolean;
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
const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, S_IFCHR, S_IFBLK, S_IFIFO } = fs.constants;

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
  const tar = new TarWriter(sink);
  const clamp = opts.clampMtime;
  const stats: LayerStats = { entries: 0, contentBytes: 0 };
  walkTree(upper, opts, (e) => {
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
      let fd: number;
      try {
        fd = fs.openSync(e.abs, O_RDONLY | O_NOFOLLOW);
      } catch (err) {
        if (hasCode(err, 'ENOENT')) return void stats.entries--; // deleted since the walk saw it (a running container)
        throw err;
      }
      try {
        tar.header({ ...base, name: e.rel, type: 'file', size: st.size });
        tar.fileData(fd, st.size);
      } finally {
        fs.closeSync(fd);
      }
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

function writeAll(fd: number, chunk: Buffer): void {
  let off = 0;
  while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
}

/**
 * Write the layer tar of `upper` to `file` (created, must not exist), hashing
 * it on the way and syncing it to disk. The fast path used by commit.
 */
export function writeLayerFile(upper: string, file: string, opts: CompareOptions = {}): LayerResult {
  const hash = crypto.createHash('sha256');
  let size = 0;
  const fd = fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL, 0o644);
  try {
    const stats = writeLayer(
      upper,
      (chunk) => {
        hash.update(chunk);
        writeAll(fd, chunk);
        size += chunk.length;
      },
      opts,
    );
    if (opts.sync !== false) fs.fdatasyncSync(fd);
    return { ...stats, diffId: `sha256:${hash.digest('hex')}`, size };
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
