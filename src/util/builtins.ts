/**
 * Node built-ins that the hot paths (`run`, `ps`, `rm`) never need, loaded on
 * first use. node:crypto costs ~2 ms to load; every module that imports it at
 * the top would put that on every command that reaches the module.
 */
import fs from 'node:fs';

export function crypto(): typeof import('node:crypto') {
  return process.getBuiltinModule('node:crypto');
}

/** `n` random bytes from the kernel (no node:crypto): for IDs and temp names. */
export function randomBytes(n: number): Buffer {
  const buf = Buffer.alloc(n);
  const fd = fs.openSync('/dev/urandom', 'r');
  try {
    for (let off = 0; off < n; ) off += fs.readSync(fd, buf, off, n - off, null);
  } finally {
    fs.closeSync(fd);
  }
  return buf;
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** An integer in [0, n), for picking from short lists (n far below 2^32: no visible bias). */
export function randomInt(n: number): number {
  return randomBytes(4).readUInt32LE(0) % n;
}
