/**
 * The build cache's size and its pruning: `builder prune`, and what `system df` and
 * `system prune` show and free of it.
 *   records  the step index (steps.json): a step's layer counts as the cache's own while no
 *            image uses it (reclaimable); one that an image uses is shared and costs nothing
 *   mounts   RUN --mount=type=cache directories (ROOT/build-cache/mounts), all reclaimable
 * Prune (as BuildKit's): without `all`, the records whose layer no image uses and every
 * cache mount not in use; with `all`, every record, mount and the file-checksum cache.
 * `until` keeps what was made or used since then. Space is freed by the ordinary garbage
 * collection once the records are gone (under the exclusive GC lock: no build adds to the
 * stores meanwhile).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../../context.js';
import { withGcLock } from '../../context.js';
import { tryLockExclusive } from '../../util/lock.js';
import { collectGarbageLocked, inUse } from '../gc.js';
import { readSteps, writeSteps, type CachedStep } from './build-cache.js';
import { cacheMountsDir } from './run-mount-host.js';

export interface BuildCacheUsage {
  /** Step records plus cache mounts. */
  count: number;
  /** Records and mounts in use by a running build (a locked cache mount). */
  active: number;
  /** Bytes: the records' layers (blob and unpacked layer) and the cache mounts' files. */
  size: number;
  /** Bytes a `builder prune -a` would free. */
  reclaimable: number;
  /** Bytes of layers that images use too (in size, not in reclaimable). */
  shared: number;
}

function duBytes(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else total += st.blocks * 512;
    }
  };
  walk(dir);
  return total;
}

function layerBytes(ctx: Ctx, e: CachedStep): number {
  let n = e.diffId ? (ctx.content.size(e.diffId) ?? 0) : 0;
  if (e.chainId && ctx.layers.has(e.chainId)) n += ctx.layers.info(e.chainId).size;
  return n;
}

interface CacheMount {
  dir: string;
  id: string;
  lastUsed: number;
}

function cacheMounts(ctx: Ctx): CacheMount[] {
  const root = cacheMountsDir(ctx);
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  return names.map((n) => {
    const dir = path.join(root, n);
    let meta: { id?: string; lastUsed?: string } = {};
    try {
      meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as typeof meta;
    } catch {
      /* no meta: treated as old */
    }
    return { dir, id: meta.id ?? n, lastUsed: meta.lastUsed ? Date.parse(meta.lastUsed) : 0 };
  });
}

/** A cache mount that no build uses right now: held (call release) so none starts using it. */
function idleMount(m: CacheMount): { release(): void } | undefined {
  return tryLockExclusive(path.join(m.dir, 'lock'));
}

/** What the build cache takes (for `system df`). Reads only. */
export function buildCacheUsage(ctx: Ctx): BuildCacheUsage {
  const images = imageUse(ctx);
  const seen = new Set<string>();
  const u: BuildCacheUsage = { count: 0, active: 0, size: 0, reclaimable: 0, shared: 0 };
  for (const e of Object.values(readSteps(ctx))) {
    u.count++;
    if (!e.diffId || seen.has(e.diffId)) continue;
    seen.add(e.diffId);
    const n = layerBytes(ctx, e);
    u.size += n;
    if (images.has(e.diffId)) u.shared += n;
    else u.reclaimable += n;
  }
  for (const m of cacheMounts(ctx)) {
    u.count++;
    const n = duBytes(path.join(m.dir, 'data'));
    u.size += n;
    u.reclaimable += n;
    const l = idleMount(m);
    if (l) l.release();
    else u.active++;
  }
  return u;
}

/** Layer blobs that images use (the cache's own roots left out). */
function imageUse(ctx: Ctx): Set<string> {
  const out = new Set<string>();
  const steps = readSteps(ctx);
  const cacheOnly = new Set(Object.values(steps).map((e) => e.diffId));
  // inUse counts the cache's roots too: ask it with an empty cache view
  const used = inUse(ctx, { withBuildCache: false });
  for (const b of used.blobs) if (cacheOnly.has(b)) out.add(b);
  return out;
}

export interface PruneOptions {
  all: boolean;
  /** Keep what was made or used at or after this time (ms since the epoch). */
  until?: number;
}

export interface PruneResult {
  /** The removed records' keys and cache mount ids. */
  deleted: string[];
  reclaimed: number;
}

export async function pruneBuildCache(ctx: Ctx, o: PruneOptions): Promise<PruneResult> {
  return withGcLock(ctx, async () => {
    const old = (t: number) => o.until === undefined || t < o.until;
    const images = imageUse(ctx);
    const steps = readSteps(ctx);
    const keep: Record<string, CachedStep> = {};
    const deleted: string[] = [];
    for (const [key, e] of Object.entries(steps)) {
      const doomed = old(Date.parse(e.created) || 0) && (o.all || (e.diffId !== undefined && !images.has(e.diffId)));
      if (doomed) deleted.push(key);
      else keep[key] = e;
    }
    let reclaimed = 0;
    if (deleted.length) writeSteps(ctx, keep);
    for (const m of cacheMounts(ctx)) {
      if (!old(m.lastUsed)) continue;
      const l = idleMount(m);
      if (!l) continue; // a build uses it now
      try {
        reclaimed += duBytes(m.dir);
        fs.rmSync(m.dir, { recursive: true, force: true });
        deleted.push(m.id);
      } finally {
        l.release();
      }
    }
    if (o.all && o.until === undefined) {
      const sums = path.join(ctx.root, 'build-cache', 'filesums.json');
      const st = fs.statSync(sums, { throwIfNoEntry: false });
      if (st) {
        reclaimed += st.size;
        fs.rmSync(sums, { force: true });
      }
    }
    reclaimed += collectGarbageLocked(ctx).bytes;
    return { deleted, reclaimed };
  }, () => ({ deleted: [], reclaimed: 0 }));
}
