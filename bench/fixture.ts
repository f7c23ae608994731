/**
 * Benchmark fixtures: a big deterministic root filesystem (10,000 files,
 * ~100 MB, a few directories deep, some symlinks), built once and cached as
 * a tarball under test/fixtures/.cache/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { FIXTURES } from '../test/helpers/cli.js';

/** xorshift32: fast, seeded, deterministic. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function fill(buf: Buffer, next: () => number): void {
  const words = buf.length >>> 2;
  for (let i = 0; i < words; i++) buf.writeUInt32LE(next(), i * 4);
  for (let i = words * 4; i < buf.length; i++) buf[i] = next() & 0xff;
}

export const BIG_FILES = 10_000;
export const BIG_BYTES = 100 * 1000 * 1000;

/** Write the tree into dir (which must exist and be empty). */
export function makeBigTree(dir: string, files = BIG_FILES, totalBytes = BIG_BYTES): void {
  const next = prng(0x5eed);
  const avg = Math.floor(totalBytes / files);
  const pool = Buffer.alloc(avg * 4);
  fill(pool, next);
  let written = 0;
  for (let i = 0; i < files; i++) {
    const d = path.join(dir, `d${i % 10}`, `e${Math.floor(i / 10) % 10}`, `f${Math.floor(i / 100) % 10}`);
    fs.mkdirSync(d, { recursive: true });
    // sizes vary from 0 to 2*avg; the last file evens out the total
    const size = i === files - 1 ? Math.max(0, totalBytes - written) : next() % (2 * avg);
    const off = next() % (pool.length - Math.min(size, pool.length));
    const name = path.join(d, `file${i}.bin`);
    if (size <= pool.length) fs.writeFileSync(name, pool.subarray(off, off + size));
    else {
      const fd = fs.openSync(name, 'w');
      for (let left = size; left > 0; left -= pool.length) fs.writeSync(fd, pool, 0, Math.min(left, pool.length));
      fs.closeSync(fd);
    }
    written += size;
    if (i % 500 === 0) fs.symlinkSync(`file${i}.bin`, path.join(d, `link${i}`));
  }
}

/** The big tree as a deterministic tarball (cached). */
export async function bigRootfsTar(): Promise<string> {
  const out = path.join(FIXTURES, 'big-rootfs.tar');
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(FIXTURES, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-big-'));
  try {
    const tree = path.join(work, 'tree');
    fs.mkdirSync(tree);
    makeBigTree(tree);
    const tmp = `${out}.${process.pid}.tmp`;
    const r = spawnSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', tmp, '-C', tree, '.']);
    if (r.status !== 0) throw new Error(`tar failed: ${r.stderr.toString()}`);
    fs.renameSync(tmp, out);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return out;
}
