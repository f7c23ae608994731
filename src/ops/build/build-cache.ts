/**
 * The build cache, under ROOT/build-cache/:
 *   steps.json     step key → what the step produced (a layer's diff_id, or none) and when.
 *                  A key is a sha256 of the parent's key and the step's inputs (executor.ts),
 *                  so the index is keyed by content and survives across builds.
 *   filesums.json  a context file's content checksum, keyed by its path and stat (dev, ino,
 *                  size, mtime, ctime): an unchanged file is never read twice. A touched file
 *                  is read again, but its checksum, and so the step key, stays the same.
 * Both files are replaced atomically and only after a successful build step; a damaged
 * file reads as empty (a cache miss is always safe).
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Ctx } from '../../context.js';
import { writeJsonReplace } from '../../util/atomic.js';
import type { EntryStat } from './walk-stat.js';

export interface CachedStep {
  /** undefined: the step made no layer (empty_layer history). */
  diffId?: string;
  /** The layer's chain ID in the layer store (entries from before it was recorded lack it). */
  chainId?: string;
  size?: number;
  contentBytes?: number;
  created: string;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/*
 * One read buffer for every file checksummed (reads are synchronous): a fresh 1 MiB buffer
 * per file made 10 GB of garbage for a 10,000-file COPY (~0.9 s of GC here).
 */
let sharedReadBuffer: Buffer | undefined;

const statKeys = new WeakMap<EntryStat, string>();
/**
 * What must not have changed for a file's recorded checksum to stand: never the path alone.
 * Worked out once per stat: a COPY asks up to four times per file (writeFirst, the writer's need and put, the key).
 */
function statKey(st: EntryStat): string {
  let k = statKeys.get(st);
  if (k === undefined) statKeys.set(st, (k = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`));
  return k;
}
const readBuffer = () => (sharedReadBuffer ??= Buffer.allocUnsafe(1 << 20));

export class BuildCache {
  private readonly dir: string;
  private steps: Record<string, CachedStep> | undefined;
  private sums: Record<string, { stat: string; sum: string }> | undefined;
  private sumsDirty = false;

  /** Temp dirs (a context from stdin or git, downloads): their paths never come back, so their sums are not written. */
  private readonly tmpDir: string;

  constructor(ctx: Ctx) {
    this.dir = path.join(ctx.root, 'build-cache');
    this.tmpDir = ctx.tmpDir + '/';
  }

  private stepsFile = () => path.join(this.dir, 'steps.json');
  private sumsFile = () => path.join(this.dir, 'filesums.json');

  get(key: string): CachedStep | undefined {
    this.steps ??= readJson<Record<string, CachedStep>>(this.stepsFile()) ?? {};
    return this.steps[key];
  }

  put(key: string, value: CachedStep): void {
    // re-read: another build may have added keys since
    const now = readJson<Record<string, CachedStep>>(this.stepsFile()) ?? {};
    now[key] = value;
    this.steps = now;
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeJsonReplace(this.stepsFile(), now);
  }

  private sumsNow(): Record<string, { stat: string; sum: string }> {
    return (this.sums ??= readJson<Record<string, { stat: string; sum: string }>>(this.sumsFile()) ?? {});
  }

  /** Is the file's checksum known for exactly this stat (it would not be read again)? */
  hasSum(abs: string, st: EntryStat): boolean {
    return this.sumsNow()[abs]?.stat === statKey(st);
  }

  /** A checksum worked out elsewhere (COPY's layer writer hashes the bytes it copies): kept as fileSum keeps its own. */
  recordSum(abs: string, st: EntryStat, sum: string): void {
    this.sumsNow()[abs] = { stat: statKey(st), sum };
    this.sumsDirty = true;
  }

  /** sha256 of a regular file's bytes, from the stat-keyed cache when the file is unchanged. */
  fileSum(abs: string, st: EntryStat): string {
    this.sums = this.sumsNow();
    const stat = statKey(st);
    const hit = this.sums[abs];
    if (hit && hit.stat === stat) return hit.sum;
    const h = crypto.createHash('sha256');
    const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const buf = readBuffer();
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (n <= 0) break;
        h.update(buf.subarray(0, n));
      }
    } finally {
      fs.closeSync(fd);
    }
    const sum = h.digest('hex');
    this.sums[abs] = { stat, sum };
    this.sumsDirty = true;
    return sum;
  }

  /** Write the file checksums learnt in this build. */
  flushSums(): void {
    if (!this.sumsDirty || !this.sums) return;
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const kept = Object.fromEntries(Object.entries(this.sums).filter(([abs]) => !abs.startsWith(this.tmpDir)));
    // one line: a file of a checksum per context file (10,000 of them for a big COPY) is read by this code only
    writeJsonReplace(this.sumsFile(), kept, 0o644, 0);
    this.sumsDirty = false;
  }
}

export function stepsFile(ctx: Ctx): string {
  return path.join(ctx.root, 'build-cache', 'steps.json');
}

/** Every recorded step, by key (empty when there is no cache yet or it is damaged). */
export function readSteps(ctx: Ctx): Record<string, CachedStep> {
  return readJson<Record<string, CachedStep>>(stepsFile(ctx)) ?? {};
}

/** Replace the step index (builder prune, under the exclusive GC lock). */
export function writeSteps(ctx: Ctx, steps: Record<string, CachedStep>): void {
  fs.mkdirSync(path.dirname(stepsFile(ctx)), { recursive: true, mode: 0o700 });
  writeJsonReplace(stepsFile(ctx), steps);
}

/**
 * What the build cache keeps alive for garbage collection (gc.ts's inUse): the blobs and
 * layers of its steps, as docker keeps its build cache apart from images (rmi and image
 * prune leave it; builder prune and system prune free it).
 */
export function cacheRoots(ctx: Ctx): { blobs: string[]; chains: string[] } {
  const blobs: string[] = [];
  const chains: string[] = [];
  for (const e of Object.values(readSteps(ctx))) {
    if (e.diffId) blobs.push(e.diffId);
    if (e.chainId) chains.push(e.chainId);
  }
  return { blobs, chains };
}

export function stepKey(parent: string, input: unknown): string {
  return crypto.createHash('sha256').update(parent).update('\n').update(JSON.stringify(input)).digest('hex');
}
