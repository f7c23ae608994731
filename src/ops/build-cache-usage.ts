/**
 * The build cache's records, one per cached step, for `system df -v`'s list
 * (the totals and the pruning are the build cache's own: build/cache-prune.ts).
 * A step whose layer an image also has is "shared", as BuildKit marks it.
 * No step is in use once its build has ended (builds do not outlive tsrun).
 */
import type { Ctx } from '../context.js';
import { readSteps } from './build/build-cache.js';

export interface CacheUsage {
  id: string;
  type: string;
  size: number;
  created: string;
  lastUsed?: string;
  usageCount: number;
  inUse: boolean;
  shared: boolean;
}

/** imageDiffIds: every layer diff_id some image has (those steps are shared). */
export function buildCacheRecords(ctx: Ctx, imageDiffIds: ReadonlySet<string>): CacheUsage[] {
  return Object.entries(readSteps(ctx)).map(([key, s]) => ({
    id: key.replace(/^sha256:/, ''),
    type: s.diffId ? 'regular' : 'frontend',
    size: s.diffId ? (s.contentBytes ?? 0) : 0,
    created: s.created,
    usageCount: 1,
    inUse: false,
    shared: !!s.diffId && imageDiffIds.has(s.diffId),
  }));
}
