/**
 * The regular files of a layer, written concurrently.
 *
 * Unpacking is bound by file creation: on ext4 `openat(O_CREAT)` is the
 * expensive call (inode allocation; far worse without a journal, where the
 * kernel scans past recently deleted inodes). The tar is parsed on the main
 * thread, synchronously, with every safety check in apply.ts; only the
 * creation and data writes of regular files go to libuv's thread pool, so
 * several creations run at once (one per pool thread, 4 by default — enough
 * to keep 2 cores busy in the kernel). The cheap per-inode calls (fchown,
 * fchmod, futimes, close) run synchronously on the fd once the data is
 * written: a pool round trip costs more than they do.
 *
 * Ordering: a file's parent directories exist before it is queued (apply.ts
 * creates directories synchronously); hardlinks wait for their target's
 * creation (`whenCreated`); directory mtimes are set after `drain()`. The
 * caller bounds memory with `busy()`/`wait()` and hands over the files queued
 * with `flush()` between input chunks.
 *
 * Small files (most of a layer) do not go through FileJob: they are written in
 * batches by the addon (apply-batch.ts), which saves the JS thread several
 * calls and a pool wake-up per file. FileJob streams the large and the sparse
 * ones, whose data need not fit in memory at once.
 */
import fs from 'node:fs';
import { isTsrunError, syscallError } from '../util/errors.js';
import type { TarDataSink } from './tarreader.js';
import { q } from './apply-names.js';
import { Batch, SmallFile, finishFile, SMALL_FILE_MAX, BATCH_FILES, BATCH_BYTES } from './apply-batch.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
export const CREATE_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

/** Files queued or being written at once (the pool runs 4; the rest wait with their data). */
const MAX_FILES = 64;
/** File data held in memory while waiting to be written. */
const MAX_BYTES = 64 * 1024 * 1024;

export interface FileMeta {
  uid: number;
  gid: number;
  mode: number;
  atime: number;
  mtime: number;
  /** A sparse file's size: its data arrives in pieces, the holes are left unwritten and the file truncated to this. */
  sparseSize?: number;
}

export interface FileHooks {
  /** Synchronous fallback when the name exists (something from before this layer): remove it and create again. */
  recreate(abs: Buffer): number;
  /** After close, when the entry has xattrs to set (synchronous, may throw). */
  after?(abs: Buffer): void;
}

/** What writes one regular file of the layer (a hardlink to it waits for `whenCreated`). */
export type FileSink = (FileJob | SmallFile) & TarDataSink;

export class FileJob {
  /** Data waiting to be written, each piece with its file position. */
  private readonly chunks: Buffer[] = [];
  private readonly positions: number[] = [];
  private fd = -1;
  private ended = false;
  private writing = false;
  private closed = false;
  private aborted = false;
  private isCreated = false;
  private created: Promise<void> | undefined;
  private resolveCreated: (() => void) | undefined;

  constructor(
    private readonly pool: ConcurrentFiles,
    /** The path as bytes (names need not be UTF-8). */
    readonly abs: Buffer,
    /** The entry's name as a byte string, for messages. */
    private readonly name: string,
    private readonly meta: FileMeta,
    private readonly hooks: FileHooks,
  ) {
    fs.open(abs, CREATE_FLAGS, 0o600, (err, fd) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return this.fail(err);
        try {
          fd = this.hooks.recreate(abs);
        } catch (e) {
          return this.fail(e);
        }
      }
      this.fd = fd;
      this.markCreated();
      this.pump();
    });
  }

  /** Resolves once the file exists (hardlinks to it may be made). Never rejects: failures go to the pool's error. */
  whenCreated(): Promise<void> {
    if (this.isCreated) return Promise.resolve();
    return (this.created ??= new Promise<void>((r) => (this.resolveCreated = r)));
  }

  private markCreated(): void {
    this.isCreated = true;
    this.resolveCreated?.();
  }

  write(chunk: Buffer, position: number): void {
    this.chunks.push(chunk);
    this.positions.push(position);
    this.pool.buffered += chunk.length;
    this.pump();
  }

  end(): void {
    this.ended = true;
    this.pump();
  }

  /** The input stopped (an error elsewhere): close without finishing, once nothing is in flight. */
  abort(): void {
    this.aborted = true;
    this.pump();
  }

  private pump(): void {
    if (this.fd < 0 || this.writing || this.closed) return;
    if (this.aborted) return this.fail(undefined);
    if (this.chunks.length) {
      // one writev for the queued pieces that follow each other in the file (all of them, unless sparse)
      const at = this.positions[0]!;
      let n = 1;
      let end = at + this.chunks[0]!.length;
      while (n < this.chunks.length && this.positions[n] === end) end += this.chunks[n++]!.length;
      const bufs = this.chunks.splice(0, n);
      this.positions.splice(0, n);
      this.writing = true;
      this.writeAll(bufs, at);
      return;
    }
    if (this.ended) this.finish();
  }

  /** One writev at `position`; partial writes resume where they stopped. */
  private writeAll(bufs: Buffer[], position: number): void {
    fs.writev(this.fd, bufs, position, (err, n) => {
      if (err) return this.fail(err, 'writing');
      let done = n;
      position += n;
      while (bufs.length && done >= bufs[0]!.length) {
        done -= bufs[0]!.length;
        this.pool.buffered -= bufs.shift()!.length;
      }
      if (bufs.length) {
        if (done > 0) {
          this.pool.buffered -= done;
          bufs[0] = bufs[0]!.subarray(done);
        }
        return this.writeAll(bufs, position);
      }
      this.writing = false;
      this.pool.wake();
      this.pump();
    });
  }

  private finish(): void {
    try {
      this.closed = true;
      finishFile(this.fd, this.meta); // closes the fd, failing or not
      this.hooks.after?.(this.abs);
    } catch (err) {
      return this.fail(err);
    }
    this.pool.settle(this);
  }

  /** Close and settle; `err` undefined: aborted, not a failure of its own. */
  private fail(err: unknown, verb = 'unpacking'): void {
    if (this.fd >= 0 && !this.closed) {
      this.closed = true;
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already failing */
      }
    }
    for (const c of this.chunks) this.pool.buffered -= c.length;
    this.chunks.length = 0;
    this.positions.length = 0;
    this.markCreated();
    this.pool.settle(this, err === undefined || isTsrunError(err) ? err : syscallError(`${verb} layer entry ${q(this.name)}`, err));
  }
}

export class ConcurrentFiles {
  /** Bytes of file data queued and not written yet. */
  buffered = 0;
  /** The first failure; once set, the caller stops feeding and rethrows it. */
  error: unknown;
  private readonly open = new Set<object>();
  private waiter: (() => void) | undefined;
  /** Small files complete in memory, not handed to the pool yet. */
  private batch: SmallFile[] = [];
  private batchBytes = 0;
  private aborted = false;
  private readonly queueSmall = (f: SmallFile): void => {
    if (this.aborted) return f.settled();
    this.batch.push(f);
    this.batchBytes += f.bytes;
    if (this.batch.length >= BATCH_FILES || this.batchBytes >= BATCH_BYTES) this.flush();
  };

  /**
   * The sink for one regular file. `path` is its absolute path as a byte
   * string (latin1), `name` the entry's name (for messages), `size` its data
   * size; a sparse file (meta.sparseSize) is always streamed.
   */
  add(path: string, name: string, size: number, meta: FileMeta, hooks: FileHooks): FileSink {
    if (size <= SMALL_FILE_MAX && meta.sparseSize === undefined) return new SmallFile(this.queueSmall, this, path, name, meta, hooks);
    const job = new FileJob(this, Buffer.from(path, 'latin1'), name, meta, hooks);
    this.open.add(job);
    return job;
  }

  /** Hand the small files queued so far to the pool (call between input chunks). */
  flush(): void {
    if (this.batch.length === 0) return;
    const batch = new Batch(this, this.batch);
    this.batch = [];
    this.batchBytes = 0;
    this.open.add(batch);
    batch.start();
  }

  /** Run `fn` once `job` exists (a hardlink to it); its failure is the pool's. */
  after(job: FileSink, fn: () => void): void {
    const p: Promise<void> = job.whenCreated().then(() => {
      this.open.delete(p);
      if (this.error === undefined) {
        try {
          fn();
        } catch (err) {
          this.error = err;
        }
      }
      this.wake();
    });
    this.open.add(p);
  }

  settle(job: object, err?: unknown): void {
    this.open.delete(job);
    if (err !== undefined && this.error === undefined) this.error = err;
    this.wake();
  }

  wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Too much in flight: the caller should `wait()` before feeding more input. */
  busy(): boolean {
    return this.open.size >= MAX_FILES || this.buffered >= MAX_BYTES;
  }

  /** Until not busy (or failed). */
  async wait(): Promise<void> {
    while (this.busy() && this.error === undefined) await new Promise<void>((r) => (this.waiter = r));
  }

  /** Stop every file still waiting for data (the input failed); then `drain()`. */
  abort(): void {
    this.aborted = true;
    for (const f of this.batch) f.settled();
    this.batch = [];
    this.batchBytes = 0;
    for (const j of this.open) if (j instanceof FileJob) j.abort();
  }

  /** Until everything queued has finished, failed or not. */
  async drain(): Promise<void> {
    this.flush();
    while (this.open.size) await new Promise<void>((r) => (this.waiter = r));
  }
}
