/**
 * Volumes as `system df` and `system prune --volumes` see them, from the
 * volume store (src/volumes/store.ts) and ops/volume.ts's prune.
 */
import type { Ctx } from '../context.js';
import type { Container } from '../containers/record.js';
import { listVolumes, volumeSize } from '../volumes/store.js';
import { pruneVolumes as pruneUnused } from './volume.js';

export interface VolumeUsage {
  name: string;
  /** Containers (any state) that mount it. */
  links: number;
  /** Bytes in it; -1 when unknown. */
  size: number;
}

export function volumesUsage(ctx: Ctx, containers: Container[]): VolumeUsage[] {
  const links = new Map<string, number>();
  for (const c of containers) {
    const names = new Set(c.config.host.mounts.filter((m) => m.type === 'volume' && m.name).map((m) => m.name!));
    for (const n of names) links.set(n, (links.get(n) ?? 0) + 1);
  }
  return listVolumes(ctx).map((v) => ({ name: v.Name, links: links.get(v.Name) ?? 0, size: volumeSize(ctx, v.Name) }));
}

/** `system prune --volumes`: the unused anonymous volumes (docker ≥ 23; `volume prune -a` takes named ones too). */
export function pruneVolumes(ctx: Ctx): { names: string[]; bytes: number } {
  const r = pruneUnused(ctx);
  return { names: r.deleted, bytes: r.reclaimed };
}
