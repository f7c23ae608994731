/**
 * Garbage collection. Reference counts are never stored: under the exclusive
 * GC lock (no other process is adding content), the set of what is in use is
 * derived from the image index and the container records, and everything
 * else is removed:
 *   blobs  = every image's manifest, config and layer blobs
 *   layers = every image's chain IDs and every container's config.layers
 *   (and the build cache's blobs and layers: build-cache.ts's cacheRoots)
 * Leftovers of killed processes (ingest temp files, layer temp dirs) are swept too.
 */
import type { Ctx } from '../context.js';
import { withGcLock } from '../context.js';
import type { Manifest, ImageConfig } from '../oci/types.js';
import { chainIds } from '../oci/digest.js';
import { listContainers } from '../containers/record.js';
import { cacheRoots } from './build/build-cache.js';

export interface InUse {
  blobs: Set<string>;
  chains: Set<string>;
}

/** What images, containers (and the build cache, unless left out) use right now. Call under the GC lock. */
export function inUse(ctx: Ctx, o: { withBuildCache: boolean } = { withBuildCache: true }): InUse {
  const blobs = new Set<string>();
  const chains = new Set<string>();
  const idx = ctx.images.read();
  for (const rec of Object.values(idx.images)) {
    blobs.add(rec.manifest);
    blobs.add(rec.id);
    try {
      const m = ctx.content.readJson<Manifest>(rec.manifest, 4 * 1024 * 1024);
      blobs.add(m.config.digest);
      for (const l of m.layers) blobs.add(l.digest);
    } catch {
      /* a damaged image keeps what it names; nothing more can be derived */
    }
    try {
      const c = ctx.content.readJson<ImageConfig>(rec.id, 8 * 1024 * 1024);
      for (const id of chainIds(c.rootfs?.diff_ids ?? [])) chains.add(id);
    } catch {
      /* as above */
    }
  }
  for (const l of Object.values(idx.lists ?? {})) blobs.add(l.digest);
  for (const c of listContainers(ctx)) for (const l of c.config.layers ?? []) chains.add(l);
  if (o.withBuildCache) {
    const cached = cacheRoots(ctx);
    for (const b of cached.blobs) blobs.add(b);
    for (const c of cached.chains) chains.add(c);
  }
  return { blobs, chains };
}

export interface GcResult {
  blobs: string[];
  layers: string[];
  /** Bytes freed: blob sizes plus layer content sizes. */
  bytes: number;
}

function removeLayers(ctx: Ctx, doomed: string[], keep: Set<string>): { removed: string[]; bytes: number } {
  let bytes = 0;
  const sizes = new Map<string, number>();
  for (const id of doomed) {
    try {
      sizes.set(id, ctx.layers.info(id).size);
    } catch {
      /* already gone */
    }
  }
  // LayerStore.gc removes every layer not in keep: give it everything else
  const keepAll = new Set([...ctx.layers.list().filter((id) => !doomed.includes(id)), ...keep]);
  const removed = ctx.layers.gc(keepAll);
  for (const id of removed) bytes += sizes.get(id) ?? 0;
  return { removed, bytes };
}

function removeBlobs(ctx: Ctx, doomed: string[]): { removed: string[]; bytes: number } {
  let bytes = 0;
  const removed: string[] = [];
  for (const d of doomed) {
    const size = ctx.content.size(d);
    if (size === undefined) continue;
    ctx.content.delete(d);
    bytes += size;
    removed.push(d);
  }
  return { removed, bytes };
}

/** Remove every blob and layer nothing uses, and sweep leftovers of dead processes. */
export async function collectGarbage(ctx: Ctx): Promise<GcResult> {
  return withGcLock(ctx, async () => collectGarbageLocked(ctx), () => ({ blobs: [], layers: [], bytes: 0 }));
}

/** collectGarbage for callers that already hold the exclusive GC lock (flock is per open file: taking it twice deadlocks). */
export function collectGarbageLocked(ctx: Ctx): GcResult {
  ctx.content.sweepIngest();
  ctx.layers.sweep();
  const used = inUse(ctx);
  const b = removeBlobs(ctx, ctx.content.list().filter((d) => !used.blobs.has(d)));
  const l = removeLayers(ctx, ctx.layers.list().filter((id) => !used.chains.has(id)), used.chains);
  return { blobs: b.removed, layers: l.removed, bytes: b.bytes + l.bytes };
}

/**
 * Undo a failed operation: remove the blobs and layers it added, unless
 * something (another process's image, a container) uses them by now.
 */
export async function removeUnreferenced(ctx: Ctx, blobs: readonly string[], chains: readonly string[]): Promise<void> {
  if (!blobs.length && !chains.length) return;
  await withGcLock(ctx, async () => {
    const used = inUse(ctx);
    removeBlobs(
      ctx,
      blobs.filter((d) => !used.blobs.has(d)),
    );
    removeLayers(
      ctx,
      chains.filter((c) => !used.chains.has(c) && ctx.layers.known(c)),
      used.chains,
    );
  }, () => undefined); // the store is gone: so is what the operation added
}
