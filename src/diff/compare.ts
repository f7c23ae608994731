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
  /** Also recreate every entry, in overlay form, under this (existing, empty) directory. */
  copyTo?: string;
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

/** Recreates entries in overlay form under `dest` (the layer store's diff/ dir). */
class LayerCopier {
  private readonly dirTimes: { abs: string; mtime: number }[] = [];
  constructor(
    private readonly dest: string,
    private readonly clamp: number | undefined,
  ) {}

  private abs(rel: string): string {
    return this.dest + '/' + rel;
  }

  private xattrs(abs: string, e: WalkEntry): void {
    for (const [name, value] of e.xattrs) {
      try {
        native().lsetxattr(abs, name, value, 0);
      } catch (err) {
        if (hasCode(err, 'ENOTSUP') || hasCode(err, 'EOPNOTSUPP')) continue;
        throw err;
      }
    }
  }

  /** Create the entry; for regular files returns the fd to write data into (closed by endFile). */
  begin(e: WalkEntry): number | undefined {
    const abs = this.abs(e.rel);
    const { st } = e;
    const mtime = mtimeOf(st, this.clamp);
    switch (e.kind) {
      case 'whiteout':
        native().mknod(abs, S_IFCHR, 0, 0);
        fs.lchownSync(abs, st.uid, st.gid);
        return undefined;
      case 'dir':
        fs.mkdirSync(abs, 0o700);
        fs.lchownSync(abs, st.uid, st.gid);
        fs.chmodSync(abs, st.mode & 0o7777);
        this.xattrs(abs, e);
        if (e.opaque) native().lsetxattr(abs, 'trusted.overlay.opaque', Buffer.from('y'), 0);
        this.dirTimes.push({ abs, mtime });
        return undefined;
      case 'file':
        return fs.openSync(abs, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      case 'link':
        fs.linkSync(this.abs(e.linkname!), abs);
        return undefined;
      case 'symlink':
        fs.symlinkSync(e.linkname!, abs);
        fs.lchownSync(abs, st.uid, st.gid);
        this.xattrs(abs, e);
        fs.lutimesSync(abs, mtime, mtime);
        return undefined;
      case 'char':
      case 'block':
      case 'fifo': {
        const fmt = e.kind === 'char' ? S_IFCHR : e.kind === 'block' ? S_IFBLK : S_IFIFO;
        const rdev = st.rdev;
        native().mknod(abs, fmt | (st.mode & 0o777), e.kind === 'fifo' ? 0 : major(rdev), e.kind === 'fifo' ? 0 : minor(rdev));
        fs.lchownSync(abs, st.uid, st.gid);
        fs.chmodSync(abs, st.mode & 0o7777);
        this.xattrs(abs, e);
        fs.lutimesSync(abs, mtime, mtime);
        return undefined;
      }
    }
  }

  endFile(e: WalkEntry, fd: number): void {
    const mtime = mtimeOf(e.st, this.clamp);
    fs.fchownSync(fd, e.st.uid, e.st.gid);
    fs.fchmodSync(fd, e.st.mode & 0o7777); // after chown, which clears setuid/setgid
    fs.futimesSync(fd, mtime, mtime);
    fs.closeSync(fd);
    this.xattrs(this.abs(e.rel), e); // after chown, which drops security.capability
  }

  /** Directory mtimes last, deepest first, so creating their children does not change them. */
  finish(): void {
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const d = this.dirTimes[i]!;
      fs.utimesSync(d.abs, d.mtime, d.mtime);
    }
  }
}

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
  const copier = opts.copyTo ? new LayerCopier(opts.copyTo, opts.clampMtime) : undefined;
  const clamp = opts.clampMtime;
  const stats: LayerStats = { entries: 0, contentBytes: 0 };
  walkTree(upper, opts, (e) => {
    try {
      addEntry(tar, copier, e, clamp, stats);
    } catch (err) {
      throw syscallError(`committing ${JSON.stringify('/' + e.rel)}`, err);
    }
  });
  tar.finish();
  copier?.finish();
  return stats;
}

function addEntry(tar: TarWriter, copier: LayerCopier | undefined, e: WalkEntry, clamp: number | undefined, stats: LayerStats): void {
  const { st } = e;
  const mtime = mtimeOf(st, clamp);
  stats.entries++;
  const base: Omit<TarHeader, 'name' | 'type'> = { mode: st.mode, uid: st.uid, gid: st.gid, size: 0, mtime, xattrs: e.xattrs };
  switch (e.kind) {
    case 'whiteout': {
      const parent = parentOf(e.rel);
      const name = (parent ? parent + '/' : '') + WH + baseOf(e.rel);
      tar.header({ ...base, name, type: 'file', mode: 0o600, xattrs: undefined });
      copier?.begin(e);
      return;
    }
    case 'dir':
      tar.header({ ...base, name: e.rel, type: 'dir' });
      copier?.begin(e);
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
        const out = copier?.begin(e);
        try {
          tar.fileData(fd, st.size, out === undefined ? undefined : (chunk) => writeAll(out, chunk));
        } finally {
          if (out !== undefined) copier!.endFile(e, out);
        }
      } finally {
        fs.closeSync(fd);
      }
      stats.contentBytes += st.size;
      return;
    }
    case 'link':
      tar.header({ ...base, name: e.rel, type: 'link', linkname: e.linkname, xattrs: undefined });
      copier?.begin(e);
      return;
    case 'symlink':
      tar.header({ ...base, name: e.rel, type: 'symlink', linkname: e.linkname });
      copier?.begin(e);
      return;
    case 'char':
    case 'block':
    case 'fifo':
      tar.header({ ...base, name: e.rel, type: e.kind, devmajor: major(st.rdev), devminor: minor(st.rdev) });
      copier?.begin(e);
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
