/**
 * Advisory locks with flock(2). The kernel drops a flock when its holder dies,
 * so a tsrun process killed with SIGKILL never leaves a stale lock behind.
 */
import fs from 'node:fs';
import { native, LOCK } from '../native.js';

export interface Lock {
  release(): void;
}

function take(file: string, op: number): Lock | undefined {
  return takeFd(fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600), op);
}

function takeFd(fd: number, op: number): Lock | undefined {
  let ok = false;
  try {
    ok = native().flock(fd, op);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  if (!ok) {
    fs.closeSync(fd);
    return undefined;
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      fs.closeSync(fd); // closing the last fd drops the flock
    },
  };
}

/** Block until the exclusive lock on `file` is ours. */
export function lockExclusive(file: string): Lock {
  return take(file, LOCK.EX)!;
}

export function lockShared(file: string): Lock {
  return take(file, LOCK.SH)!;
}

/** Try once; undefined when another process holds it. */
export function tryLockExclusive(file: string): Lock | undefined {
  return take(file, LOCK.EX | LOCK.NB);
}

/**
 * Wait for the exclusive lock without blocking the event loop: a blocking
 * flock would stall every other async task of this process (parallel layer
 * downloads) and deadlock two waiters in one process.
 */
export async function lockExclusiveAsync(file: string, pollMs = 10): Promise<Lock> {
  for (;;) {
    const l = tryLockExclusive(file);
    if (l) return l;
    await new Promise((r) => setTimeout(r, pollMs));
    pollMs = Math.min(pollMs * 2, 100);
  }
}

/**
 * Locks on a directory itself (flock works on a directory fd): no lock file
 * to create, and the lock follows the directory through a rename. Throws
 * ENOENT when the directory is gone.
 */
function openDir(dir: string): number {
  return fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
}

export function lockDirExclusive(dir: string): Lock {
  return takeFd(openDir(dir), LOCK.EX)!;
}

export function tryLockDirExclusive(dir: string): Lock | undefined {
  return takeFd(openDir(dir), LOCK.EX | LOCK.NB);
}

/** lockDirExclusive without blocking the event loop (see lockExclusiveAsync). */
export async function lockDirExclusiveAsync(dir: string, pollMs = 5): Promise<Lock> {
  for (;;) {
    const l = tryLockDirExclusive(dir);
    if (l) return l;
    await new Promise((r) => setTimeout(r, pollMs));
    pollMs = Math.min(pollMs * 2, 50);
  }
}

/** Run fn while holding the exclusive lock on `file`. */
export async function withLock<T>(file: string, fn: () => T | Promise<T>): Promise<T> {
  const lock = await lockExclusiveAsync(file);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

export function withLockSync<T>(file: string, fn: () => T): T {
  const lock = lockExclusive(file);
  try {
    return fn();
  } finally {
    lock.release();
  }
}
