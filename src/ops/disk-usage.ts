/**
 * `tsrun system df`: the space images, containers, volumes and the build
 * cache take, in the terms docker's `system df` computes its four rows from:
 *   images      every image's layers; SIZE counts each layer once (docker's LayersSize);
 *               an image is active when a container uses it; shared size = its layers
 *               that another image also has
 *   containers  each container's writable layer (upper/, docker's SizeRw); active = running or paused
 *   volumes     the volume store's (ops/volume-usage.ts)
 *   build cache the build cache's own totals (build/cache-prune.ts: step records and RUN
 *               cache mounts; a layer an image also has is shared) and its records for -v
 * The reclaimable arithmetic (docker's formatter) is in cli/commands/system-df.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { listContainers, type Container } from '../containers/record.js';
import { isRunning, refresh } from '../containers/status.js';
import { chainIds } from '../oci/digest.js';
import type { ImageConfig } from '../oci/types.js';
import { listImages, type ImageRow } from './images.js';
import { buildCacheRecords, type CacheUsage } from './build-cache-usage.js';
import { buildCacheUsage, type BuildCacheUsage } from './build/cache-prune.js';
import { volumesUsage, type VolumeUsage } from './volume-usage.js';

export interface ImageUsage {
  id: string;
  created?: string;
  /** Sum of its layers. */
  size: number;
  /** Its layers that another image also has. */
  sharedSize: number;
  containers: number;
  /** repo:tag rows, for -v (one per tag; <none> when untagged). */
  rows: ImageRow[];
}

export interface ContainerUsage {
  container: Container;
  active: boolean;
  /** Bytes in its writable layer. */
  sizeRw: number;
}

export interface DiskUsage {
  /** Every image layer, each counted once. */
  layersSize: number;
  images: ImageUsage[];
  containers: ContainerUsage[];
  volumes: VolumeUsage[];
  /** The cache's records (for -v). */
  buildCache: CacheUsage[];
  /** Its totals, as the build cache counts them (records and RUN cache mounts). */
  buildCacheTotals: BuildCacheUsage;
}

/** Bytes of the files below dir, each inode once (docker's directory.Size). */
export function dirSize(dir: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        walk(p);
        continue;
      }
      const key = `${st.dev}:${st.ino}`;
      if (st.nlink > 1) {
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += st.size;
    }
  };
  walk(dir);
  return total;
}

function layerSize(ctx: Ctx, chain: string): number {
  try {
    return ctx.layers.info(chain).size;
  } catch {
    return 0; // not unpacked
  }
}

export function diskUsage(ctx: Ctx): DiskUsage {
  const containers = listContainers(ctx).map((c) => refresh(ctx, c));
  const users = new Map<string, number>();
  for (const c of containers) users.set(c.config.imageId, (users.get(c.config.imageId) ?? 0) + 1);

  const idx = ctx.images.read();
  const chainsOf = new Map<string, string[]>();
  const imagesWith = new Map<string, number>();
  const created = new Map<string, string | undefined>();
  const diffIds = new Set<string>();
  for (const id of Object.keys(idx.images)) {
    let config: ImageConfig;
    try {
      config = ctx.content.readJson<ImageConfig>(id, 8 * 1024 * 1024);
    } catch {
      continue;
    }
    for (const d of config.rootfs?.diff_ids ?? []) diffIds.add(d);
    const chains = chainIds(config.rootfs?.diff_ids ?? []);
    chainsOf.set(id, chains);
    created.set(id, config.created);
    for (const ch of new Set(chains)) imagesWith.set(ch, (imagesWith.get(ch) ?? 0) + 1);
  }
  const sizes = new Map<string, number>();
  for (const ch of imagesWith.keys()) sizes.set(ch, layerSize(ctx, ch));
  const rowsById = new Map<string, ImageRow[]>();
  for (const r of listImages(ctx)) rowsById.set(r.id, [...(rowsById.get(r.id) ?? []), r]);

  const images: ImageUsage[] = [];
  for (const [id, chains] of chainsOf) {
    let size = 0;
    let shared = 0;
    for (const ch of chains) {
      const s = sizes.get(ch) ?? 0;
      size += s;
      if ((imagesWith.get(ch) ?? 0) > 1) shared += s;
    }
    images.push({ id, created: created.get(id), size, sharedSize: shared, containers: users.get(id) ?? 0, rows: rowsById.get(id) ?? [] });
  }
  images.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
  let layersSize = 0;
  for (const s of sizes.values()) layersSize += s;

  return {
    layersSize,
    images,
    containers: containers.map((c) => ({ container: c, active: isRunning(c), sizeRw: dirSize(path.join(c.dir, 'upper')) })),
    volumes: volumesUsage(ctx, containers),
    buildCache: buildCacheRecords(ctx, diffIds),
    buildCacheTotals: buildCacheUsage(ctx),
  };
}
