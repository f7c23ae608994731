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
 * creation (`created`); directory mtimes are set after `drain()`. The caller
 * bounds memory with `busy()`/`wait()` between input chunks.
 */
import fs from 'node:fs';
import { isTsrunError, syscallError } from '../util/errors.js';

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
  /** After close: xattrs and the like (synchronous, may throw). */
  after(abs: Buffer): void;
}

export class FileJob {
  /** Data waiting to be written, each piece with its file position. */
  private readonly chunks: Buffer[] = [];
  private readonly positions: number[] = [];
  private fd = -1;
  private ended = false;
  private writing = false;
  private closed = false;
  private aborted = false;
  private resolveCreated!: () => void;
  /** Resolves once the file exists (hardlinks to it may be made). Never rejects: failures go to the pool's error. */
  readonly created = new Promise<void>((r) => (this.resolveCreated = r));

  constructor(
    private readonly pool: ConcurrentFiles,
    /** The path as bytes (names need not be UTF-8). */
    readonly abs: Buffer,
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
      this.resolveCreated();
      this.pump();
    });
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
      if (err) return this.fail(err, `writing layer entry ${JSON.stringify(this.name)}`);
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
    const { fd, meta } = this;
    try {
      // chown clears setuid/setgid, so chmod after it
      if (meta.sparseSize !== undefined) fs.ftruncateSync(fd, meta.sparseSize); // a trailing hole
      fs.fchownSync(fd, meta.uid, meta.gid);
      fs.fchmodSync(fd, meta.mode);
      fs.futimesSync(fd, meta.atime, meta.mtime);
      this.closed = true;
      fs.closeSync(fd);
      this.hooks.after(this.abs);
    } catch (err) {
      return this.fail(err);
    }
    this.pool.settle(this);
  }

  /** Close and settle; `err` undefined: aborted, not a failure of its own. */
  private fail(err: unknown, what = `unpacking layer entry ${JSON.stringify(this.name)}`): void {
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
    this.resolveCreated();
    this.pool.settle(this, err === undefined || isTsrunError(err) ? err : syscallError(what, err));
  }
}

export class ConcurrentFiles {
  /** Bytes of file data queued and not written yet. */
  buffered = 0;
  /** The first failure; once set, the caller stops feeding and rethrows it. */
  error: unknown;
  private readonly open = new Set<FileJob | Promise<void>>();
  private waiter: (() => void) | undefined;

  add(abs: Buffer, name: string, meta: FileMeta, hooks: FileHooks): FileJob {
    const job = new FileJob(this, abs, name, meta, hooks);
    this.open.add(job);
    return job;
  }

  /** Run `fn` once `job` exists (a hardlink to it); its failure is the pool's. */
  after(job: FileJob, fn: () => void): void {
    const p: Promise<void> = job.created.then(() => {
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

  settle(job: FileJob, err?: unknown): void {
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
    for (const j of this.open) if (j instanceof FileJob) j.abort();
  }

  /** Until everything queued has finished, failed or not. */
  async drain(): Promise<void> {
    while (this.open.size) await new Promise<void>((r) => (this.waiter = r));
  }
}
