/**
 * Small regular files of a layer, created and written in batches.
 *
 * Most files of a layer are small (a median of ~10 KB in the 10,000-file
 * benchmark image) and arrive whole within one or two input chunks. Written
 * one by one (apply-files.ts's FileJob) each costs two pool round trips
 * (open, writev) and four synchronous calls on the JS thread (fchown, fchmod,
 * futimes, close); on a 2-core machine each pool request also wakes a pool
 * thread that often preempts the JS thread, which parses the tar and is what
 * unpacking waits on. Here a file's data is kept until its end, then files
 * are handed to the addon's writeFiles (native/addon/writefiles.c) a batch at
 * a time: one pool thread creates (O_EXCL | O_NOFOLLOW), writes, chowns,
 * chmods, sets the times of and closes every file of the batch, while the JS
 * thread goes on parsing. Several batches run at once on the pool (so ext4's
 * slow inode allocations still overlap).
 *
 * A name that exists already (something from before this layer, when a layer
 * is applied onto a tree) fails the batch's O_EXCL open: that file is then
 * redone synchronously through the `recreate` hook, as FileJob does.
 */
import fs from 'node:fs';
import { native } from '../native.js';
import { errnoError, isTsrunError, syscallError } from '../util/errors.js';
import type { FileHooks, FileMeta } from './apply-files.js';
import type { TarDataSink } from './tarreader.js';
import { q } from './apply-names.js';

/** Files up to this size are batched; larger ones (and sparse ones) are streamed by FileJob. */
export const SMALL_FILE_MAX = 1 << 20;
/** A batch is handed to the pool at this many files or bytes (or at the end of each input chunk). */
export const BATCH_FILES = 64;
export const BATCH_BYTES = 4 << 20;

/** The pool a batch reports to (ConcurrentFiles). */
export interface BatchPool {
  buffered: number;
  settle(job: object, err?: unknown): void;
  wake(): void;
}

/** Doubles per file in writeFiles' meta array (writefiles.c META_STRIDE). */
const STRIDE = 8;
const STEPS = ['open', 'write', 'fchown', 'fchmod', 'futime', 'close'] as const;
const EEXIST = 17;


/** chown, chmod (after chown, which clears setuid/setgid), times, close: a file's metadata once its data is written. */
export function finishFile(fd: number, meta: FileMeta): void {
  try {
    if (meta.sparseSize !== undefined) fs.ftruncateSync(fd, meta.sparseSize); // a trailing hole
    fs.fchownSync(fd, meta.uid, meta.gid);
    fs.fchmodSync(fd, meta.mode);
    fs.futimesSync(fd, meta.atime, meta.mtime);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      /* already failing */
    }
    throw err;
  }
  fs.closeSync(fd);
}

/** A small regular file: its data is kept until its end, then it joins a batch. */
export class SmallFile implements TarDataSink {
  readonly bufs: Buffer[] = [];
  bytes = 0;
  private done = false;
  private created: Promise<void> | undefined;
  private resolveCreated: (() => void) | undefined;

  constructor(
    private readonly queue: (f: SmallFile) => void,
    private readonly pool: BatchPool,
    /** The path as a byte string (latin1: one char per byte). */
    readonly path: string,
    /** The entry's name as a byte string, for messages. */
    readonly name: string,
    readonly meta: FileMeta,
    readonly hooks: FileHooks,
  ) {}

  /** The path as the Buffer node:fs takes (names need not be UTF-8). */
  get abs(): Buffer {
    return Buffer.from(this.path, 'latin1');
  }

  /** Data arrives in order from offset 0 (small files are never sparse). */
  write(chunk: Buffer): void {
    this.bufs.push(chunk);
    this.bytes += chunk.length;
    this.pool.buffered += chunk.length;
  }

  end(): void {
    this.queue(this);
  }

  /** Resolves once the file exists (or failed; failures go to the pool's error). */
  whenCreated(): Promise<void> {
    if (this.done) return Promise.resolve();
    return (this.created ??= new Promise<void>((r) => (this.resolveCreated = r)));
  }

  /** Written (or failed, or dropped): release its data and anyone waiting for it. */
  settled(): void {
    this.done = true;
    this.pool.buffered -= this.bytes;
    this.bufs.length = 0;
    this.resolveCreated?.();
  }

  /** The slow path, synchronous: the name existed, so remove it and create the file again. */
  redo(): void {
    const fd = this.hooks.recreate(this.abs);
    let pos = 0;
    try {
      for (const b of this.bufs) {
        for (let off = 0; off < b.length; ) {
          const n = fs.writeSync(fd, b, off, b.length - off, pos);
          off += n;
          pos += n;
        }
      }
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    finishFile(fd, this.meta);
  }
}

/** One batch of small files on the pool; settles with the pool when writeFiles reports back. */
export class Batch {
  constructor(
    private readonly pool: BatchPool,
    private readonly files: SmallFile[],
  ) {}

  start(): void {
    const files = this.files;
    const meta = new Float64Array(files.length * STRIDE);
    const bufs: Buffer[] = [];
    let paths = '';
    let off = 0;
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!;
      const m = f.meta;
      paths += f.path + '\0';
      const at = i * STRIDE;
      meta[at] = off;
      meta[at + 1] = f.path.length;
      meta[at + 2] = f.bufs.length;
      meta[at + 3] = m.uid;
      meta[at + 4] = m.gid;
      meta[at + 5] = m.mode;
      meta[at + 6] = m.atime;
      meta[at + 7] = m.mtime;
      off += f.path.length + 1;
      for (const b of f.bufs) bufs.push(b);
    }
    try {
      native().writeFiles(Buffer.from(paths, 'latin1'), meta, bufs, (failures) => this.complete(failures));
    } catch (err) {
      this.complete(null, err);
    }
  }

  /** Called from the addon's completion: must not throw (it would be an uncaught exception). */
  private complete(failures: Int32Array | null, startError?: unknown): void {
    let error = startError;
    const failed = new Set<number>();
    if (failures) {
      for (let k = 0; k < failures.length; k += 3) {
        const i = failures[k]!;
        const errno = failures[k + 1]!;
        const step = STEPS[failures[k + 2]!] ?? 'open';
        const f = this.files[i]!;
        failed.add(i);
        if (error !== undefined) continue;
        try {
          if (step === 'open' && errno === EEXIST) {
            f.redo();
            failed.delete(i);
          } else {
            const what = step === 'write' ? 'writing' : 'unpacking';
            error = syscallError(`${what} layer entry ${q(f.name)}`, errnoError(errno, step));
          }
        } catch (err) {
          error = isTsrunError(err) ? err : syscallError(`unpacking layer entry ${q(f.name)}`, err);
        }
      }
    }
    for (let i = 0; i < this.files.length; i++) {
      const f = this.files[i]!;
      if (f.hooks.after && error === undefined && !failed.has(i)) {
        try {
          f.hooks.after?.(f.abs);
        } catch (err) {
          error = isTsrunError(err) ? err : syscallError(`unpacking layer entry ${q(f.name)}`, err);
        }
      }
      f.settled();
    }
    this.pool.settle(this, error);
  }
}
