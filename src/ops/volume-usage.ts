/**
 * Volumes as `system df` and `system prune --volumes` see them. A hook until
 * the volume store lands (it will supply list, size and prune): until then
 * there are no volumes, and the Local Volumes row reads 0.
 */
import type { Ctx } from '../context.js';
import type { Container } from '../containers/record.js';

export interface VolumeUsage {
  name: string;
  /** Containers (any state) that mount it. */
  links: number;
  /** Bytes in it; -1 when unknown. */
  size: number;
}

export function volumesUsage(_ctx: Ctx, _containers: Container[]): VolumeUsage[] {
  return [];
}

/** Remove volumes no container uses; returns their names and the bytes freed. */
export function pruneVolumes(_ctx: Ctx): { names: string[]; bytes: number } {
  return { names: [], bytes: 0 };
}
