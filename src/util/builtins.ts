/**
 * Node built-ins that the hot paths (`run`, `ps`, `rm`) never need, loaded on
 * first use. node:crypto costs ~2 ms to load; every module that imports it at
 * the top would put that on every command that reaches the module.
 */
import fs from 'node:fs';

export function crypto(): typeof import('node:crypto') {
  return process.getBuiltinModule('node:crypto');
}

let pool = Buffer.alloc(0);
let used = 0;

/**
 * `n` random bytes from the kernel (no node:crypto): for IDs and temp names.
 * Read from /dev/urandom 512 bytes at a time: one command asks for a few
 * bytes many times, and each open/read/close costs more than the bytes.
 */
export function randomBytes(n: number): Buffer {
  if (used + n > pool.length) {
    pool = Buffer.alloc(Math.max(512, n));
    const fd = fs.openSync('/dev/urandom', 'r');
    try {
      for (let off = 0; off < pool.length; ) off += fs.readSync(fd, pool, off, pool.length - off, null);
    } finally {
      fs.closeSync(fd);
    }
    used = 0;
  }
  const out = Buffer.from(pool.subarray(used, used + n)); // a copy: the pool is overwritten on refill
  pool.fill(0, used, used + n);
  used += n;
  return out;
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** An integer in [0, n), for picking from short lists (n far below 2^32: no visible bias). */
export function randomInt(n: number): number {
  return randomBytes(4).readUInt32LE(0) % n;
}

/** node:os, on first use (loading it costs ~0.1 ms of every command that reaches a module importing it). */
export function os(): typeof import('node:os') {
  return process.getBuiltinModule('node:os');
}

let release: string | undefined;

/** The running kernel's release ("6.18.44-…"): /proc/sys/kernel/osrelease, read once (no node:os). */
export function kernelRelease(): string {
  release ??= fs.readFileSync('/proc/sys/kernel/osrelease', 'latin1').trim();
  return release;
}

/** The running kernel is at least `version` ("5.10", "4.8.0"). */
export function kernelAtLeast(version: string): boolean {
  const parse = (v: string): [number, number] => {
    const [a = 0, b = 0] = v.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
    return [a, b];
  };
  const [a, b] = parse(kernelRelease());
  const [c, d] = parse(version);
  return a > c || (a === c && b >= d);
}
