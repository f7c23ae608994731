/**
 * blob-writer: hash (sha256) and write a layer tar to an open file while the
 * caller is still producing it, on a second thread.
 *
 * Why: commit's walk (readdir/lstat/llistxattr/open/read) is synchronous and
 * takes one core; hashing and writing the same bytes take about as long
 * again. `tar -cf - | sha256sum` is fast because its two halves run on two
 * cores, so this does the same: the walk fills fixed slots of a
 * SharedArrayBuffer ring and a worker_threads worker hashes and writes them.
 *
 * Protocol (all in one shared Int32Array, so the synchronous walk never needs
 * the event loop): the producer publishes a slot by storing its length and
 * bumping HEAD; the worker consumes slots in order and bumps TAIL. Each side
 * bumps its own "signal" counter on every change and the other side
 * Atomics.waits on that counter, so no wake-up can be lost. The producer
 * blocks (back-pressure) only when every slot is in flight.
 *
 * The worker is started lazily, when `workerAfter` bytes are queued: a small
 * commit (one file) never pays its ~15 ms start-up, and hashes and writes its
 * few KiB on the calling thread at finish().
 *
 * Abort (the walk threw): the worker is told to stop, the producer waits
 * until it has left its loop (so no write can land on a closed, maybe reused
 * fd), then terminates it. The caller closes the fd and removes the file.
 */
import fs from 'node:fs';
import crypto from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { TsrunError } from '../util/errors.js';

export interface BlobWriterOptions {
  /** Bytes per slot (default 4 MiB). */
  slotSize?: number;
  /** Slots in the ring (default 8). */
  slots?: number;
  /**
   * Start the worker once this many bytes are queued (default 8 MiB: below
   * that, its start-up costs more than hashing and writing here). Must fit in
   * the ring to take effect. 0: at once. Infinity: never.
   */
  workerAfter?: number;
  /** fdatasync the file before finish() returns (default true)... */
  sync?: boolean;
  /** ...unless this says the digest needs none (e.g. the store already holds that blob, durably). */
  skipSync?: (digest: string) => boolean;
}

export interface BlobResult {
  /** "sha256:<hex>" of everything written. */
  digest: string;
  size: number;
}

// ctrl layout (Int32 indexes)
const HEAD = 0; // slots published by the producer
const TAIL = 1; // slots consumed by the worker
const PSIG = 2; // producer's signal counter (bumped on publish / done / abort)
const WSIG = 3; // worker's signal counter (bumped on consume / state change)
const DONE = 4; // 0 running, 1 no more slots, 2 abort
const STATE = 5; // 0 starting, 1 running, 2 finished, 3 failed
const LENS = 8; // LENS + slot: length of the data in that slot
const OUT_DIGEST = 0; // out: 64 hex chars
const OUT_ERROR = 64; // out: error message (utf8, NUL-padded)
const OUT_SIZE = 1024;

/** How long the producer waits for the worker to come up before giving up. */
const START_TIMEOUT_MS = 30_000;

/**
 * The worker's code. Inline (eval) rather than a file beside this one: the
 * CLI runs from an esbuild bundle, where no sibling file would be found.
 */
const WORKER_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const { fd, ctrlBuf, outBuf, slotBufs } = workerData;
const ctrl = new Int32Array(ctrlBuf);
const out = Buffer.from(outBuf);
const slots = slotBufs.map((b) => Buffer.from(b));
const signal = (state) => {
  if (state !== undefined) Atomics.store(ctrl, ${STATE}, state);
  Atomics.add(ctrl, ${WSIG}, 1);
  Atomics.notify(ctrl, ${WSIG});
};
const hash = crypto.createHash('sha256');
signal(1);
try {
  let tail = 0;
  let aborted = false;
  for (;;) {
    const sig = Atomics.load(ctrl, ${PSIG});
    if (Atomics.load(ctrl, ${DONE}) === 2) { aborted = true; break; }
    if (Atomics.load(ctrl, ${HEAD}) > tail) {
      const i = tail % slots.length;
      const len = Atomics.load(ctrl, ${LENS} + i);
      const chunk = slots[i].subarray(0, len);
      hash.update(chunk);
      let off = 0;
      while (off < len) off += fs.writeSync(fd, chunk, off, len - off);
      tail++;
      Atomics.store(ctrl, ${TAIL}, tail);
      signal();
      continue;
    }
    if (Atomics.load(ctrl, ${DONE}) === 1) break;
    Atomics.wait(ctrl, ${PSIG}, sig);
  }
  if (!aborted) out.write(hash.digest('hex'), ${OUT_DIGEST}, 'latin1');
  signal(2);
} catch (err) {
  out.write(String((err && err.code ? err.code + ': ' : '') + (err && err.message || err)).slice(0, ${OUT_SIZE - OUT_ERROR - 4}), ${OUT_ERROR}, 'utf8');
  signal(3);
}
`;

function writeAll(fd: number, chunk: Buffer): void {
  let off = 0;
  while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
}

export class BlobWriter {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(4 * (LENS + 64)));
  private readonly out = Buffer.from(new SharedArrayBuffer(OUT_SIZE));
  private readonly slotBufs: SharedArrayBuffer[] = [];
  private readonly slots: Buffer[] = [];
  private readonly workerAfter: number;
  private readonly sync: boolean;
  private readonly skipSync: ((digest: string) => boolean) | undefined;
  private worker: Worker | undefined;
  private head = 0;
  private size = 0;
  private closed = false;

  constructor(
    private readonly fd: number,
    opts: BlobWriterOptions = {},
  ) {
    const slotSize = opts.slotSize ?? 2 << 20;
    const n = Math.max(2, Math.min(opts.slots ?? 8, 64));
    for (let i = 0; i < n; i++) {
      // SharedArrayBuffers are zero-filled lazily by the kernel (fresh mmap): cheap to make
      const sab = new SharedArrayBuffer(slotSize);
      this.slotBufs.push(sab);
      this.slots.push(Buffer.from(sab));
    }
    this.workerAfter = opts.workerAfter ?? 8 << 20;
    this.sync = opts.sync !== false;
    this.skipSync = opts.skipSync;
  }

  /** The buffer to fill first. */
  first(): Buffer {
    return this.slots[0]!;
  }

  /**
   * Queue `chunk` (a prefix of the buffer last handed out) and return the
   * next buffer to fill, blocking while every slot is in flight.
   */
  push(chunk: Buffer): Buffer {
    if (this.closed) throw new Error('BlobWriter: push after finish/abort');
    const i = this.head % this.slots.length;
    if (chunk.buffer !== this.slotBufs[i]) throw new Error('BlobWriter: chunk is not the current slot');
    Atomics.store(this.ctrl, LENS + i, chunk.length);
    this.head++;
    this.size += chunk.length;
    const n = this.slots.length;
    // the worker can take over only while nothing was hashed here yet (a hash cannot change threads)
    if (!this.worker && this.hereDone === 0 && this.size >= this.workerAfter) this.startWorker();
    if (this.worker) {
      this.publish();
      this.waitFor(() => this.head - Atomics.load(this.ctrl, TAIL) < n);
    } else if (this.head - this.hereDone >= n) {
      this.drainHere(); // no worker and the ring is full: the slot to fill next is written here first
    }
    return this.slots[this.head % n]!;
  }

  /** Everything pushed is hashed, written and (by default) synced. */
  finish(): BlobResult {
    this.closed = true;
    let digest: string;
    if (!this.worker) {
      this.drainHere();
      digest = `sha256:${this.hereHash!.digest('hex')}`;
    } else {
      Atomics.store(this.ctrl, DONE, 1);
      this.bumpProducer();
      this.waitFor(() => Atomics.load(this.ctrl, STATE) >= 2);
      const failed = Atomics.load(this.ctrl, STATE) === 3;
      this.stopWorker();
      if (failed) throw this.workerError();
      digest = `sha256:${this.out.toString('latin1', OUT_DIGEST, OUT_DIGEST + 64)}`;
    }
    // here, not in the worker: only now is the digest known to ask skipSync about
    if (this.sync && !this.skipSync?.(digest)) fs.fdatasyncSync(this.fd);
    return { digest, size: this.size };
  }

  /** Stop without finishing; after it returns nothing will write to the fd. Never throws. */
  abort(): void {
    this.closed = true;
    if (!this.worker) return;
    Atomics.store(this.ctrl, DONE, 2);
    this.bumpProducer();
    try {
      this.waitFor(() => Atomics.load(this.ctrl, STATE) >= 2);
    } catch {
      /* it never started: terminate() below is all there is to do */
    }
    this.stopWorker();
  }

  // --- the no-worker path: the calling thread hashes and writes
  private hereHash: crypto.Hash | undefined = crypto.createHash('sha256');
  private hereDone = 0;

  private drainHere(): void {
    for (; this.hereDone < this.head; this.hereDone++) {
      const i = this.hereDone % this.slots.length;
      const chunk = this.slots[i]!.subarray(0, Atomics.load(this.ctrl, LENS + i));
      this.hereHash!.update(chunk);
      writeAll(this.fd, chunk);
    }
  }

  // --- the worker path
  private startWorker(): void {
    // slots already drained here (only when workerAfter > ring size) are skipped
    this.hereHash = undefined;
    Atomics.store(this.ctrl, TAIL, 0);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { fd: this.fd, ctrlBuf: this.ctrl.buffer, outBuf: this.out.buffer, slotBufs: this.slotBufs },
      stdout: false,
      stderr: false,
    });
    // the worker ends by itself once told DONE; it must never hold the process open
    this.worker.unref();
    this.publish();
  }

  private publish(): void {
    Atomics.store(this.ctrl, HEAD, this.head);
    this.bumpProducer();
  }

  private bumpProducer(): void {
    Atomics.add(this.ctrl, PSIG, 1);
    Atomics.notify(this.ctrl, PSIG);
  }

  /** Block until `ready()` or the worker failed; throws the worker's error, or a timeout if it never started. */
  private waitFor(ready: () => boolean): void {
    let startWait = 0;
    for (;;) {
      const sig = Atomics.load(this.ctrl, WSIG);
      if (ready()) return;
      const state = Atomics.load(this.ctrl, STATE);
      if (state === 3) {
        this.stopWorker();
        throw this.workerError();
      }
      if (state === 0) {
        const now = performance.now();
        if (!startWait) startWait = now;
        else if (now - startWait > START_TIMEOUT_MS) {
          this.stopWorker();
          throw new TsrunError('SYSCALL', 'the layer writer thread did not start', { hint: 'the system may be out of memory or threads' });
        }
      }
      Atomics.wait(this.ctrl, WSIG, sig, 1000);
    }
  }

  private stopWorker(): void {
    const w = this.worker;
    if (!w) return;
    // the worker may already be gone; terminate() of an exited worker is harmless
    void w.terminate().catch(() => {});
  }

  private workerError(): TsrunError {
    const msg = this.out.toString('utf8', OUT_ERROR, OUT_SIZE).replace(/\0+$/, '') || 'unknown error';
    return new TsrunError('SYSCALL', `writing the layer blob: ${msg}`);
  }
}
