/**
 * `container prune` and `system prune`: remove what nothing uses, in docker's
 * order (containers, networks, volumes, images, build cache), each part
 * reporting what went and the bytes freed.
 *   containers  every one not running or paused (created, exited); checked again under
 *               its lock, so one started meanwhile stays
 *   networks    user networks no container is attached to
 *   volumes     only with --volumes: unused anonymous volumes (ops/volume-usage.ts)
 *   images      dangling ones (untagged), with -a every one no container uses
 *   build cache steps whose layer no image has, with -a every step
 * Filters (until=, label=) apply to containers, networks, images; they are checked
 * before anything is removed.
 */
import type { Ctx } from '../context.js';
import { listContainers } from '../containers/record.js';
import { isRunning, refresh } from '../containers/status.js';
import { removeContainer, sweepContainers } from '../containers/rm.js';
import type { ImageConfig } from '../oci/types.js';
import { dirSize } from './disk-usage.js';
import { pruneImages } from './prune.js';
import { pruneMatches, parsePruneFilters, type PruneFilter } from './prune-filters.js';
import { pruneBuildCache } from './build/cache-prune.js';
import { pruneVolumes } from './volume-usage.js';
import { listNetworks } from '../runtime/network/store.js';
import { removeNetwork } from './network.js';
import path from 'node:path';

export interface ContainerPruneResult {
  deleted: string[];
  reclaimed: number;
}

export async function pruneContainersFiltered(ctx: Ctx, f: PruneFilter): Promise<ContainerPruneResult> {
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const c0 of listContainers(ctx)) {
    const c = refresh(ctx, c0);
    if (isRunning(c) || !pruneMatches(f, c.config.created, c.config.labels)) continue;
    const size = dirSize(path.join(c.dir, 'upper'));
    try {
      if (!(await removeContainer(ctx, c, { onlyStopped: true }))) continue;
    } catch {
      continue; // removed by someone else meanwhile
    }
    deleted.push(c.config.id);
    reclaimed += size;
  }
  sweepContainers(ctx);
  return { deleted, reclaimed };
}

export async function pruneContainers(ctx: Ctx, filters: string[]): Promise<ContainerPruneResult> {
  return pruneContainersFiltered(ctx, parsePruneFilters(filters));
}

export interface SystemPruneOptions {
  all: boolean;
  volumes: boolean;
  filters: string[];
}

export interface SystemPruneResult {
  containers: string[];
  networks: string[];
  volumes: string[];
  images: string[];
  buildCache: string[];
  reclaimed: number;
}

function pruneNetworksFiltered(ctx: Ctx, f: PruneFilter): string[] {
  const out: string[] = [];
  for (const n of listNetworks(ctx)) {
    if (n.name === 'bridge' || !pruneMatches(f, n.created, n.labels)) continue;
    try {
      out.push(removeNetwork(ctx, n.name));
    } catch {
      /* in use */
    }
  }
  return out;
}

export async function systemPrune(ctx: Ctx, o: SystemPruneOptions): Promise<SystemPruneResult> {
  const f = parsePruneFilters(o.filters);
  const c = await pruneContainersFiltered(ctx, f);
  const networks = pruneNetworksFiltered(ctx, f);
  const vols = o.volumes ? pruneVolumes(ctx) : { names: [], bytes: 0 };
  // an image the filters spare stays; its config says when it was made and its labels
  const spared = (id: string): boolean => {
    if (f.until === undefined && !f.labels.length) return false;
    try {
      const cfg = ctx.content.readJson<ImageConfig>(id, 8 * 1024 * 1024);
      return !pruneMatches(f, cfg.created, cfg.config?.Labels ?? undefined);
    } catch {
      return true;
    }
  };
  const img = await pruneImages(ctx, o.all, spared);
  // after the images, as docker: a step whose layer only a pruned image had is no longer shared
  const cache = await pruneBuildCache(ctx, { all: o.all, until: f.until });
  return { containers: c.deleted, networks, volumes: vols.names, images: img.deleted, buildCache: cache.deleted.map((k) => k.replace(/^sha256:/, '')), reclaimed: c.reclaimed + vols.bytes + img.reclaimed + cache.reclaimed };
}
