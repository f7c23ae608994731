/**
 * The build cache as `system df` and `system prune` see it. A hook until the
 * build cache exports its own size and prune (build/build-cache.ts owns the
 * format): this reads ROOT/build-cache/steps.json, one record per cached step.
 *
 * A step's size is its layer's content (0 for a step that made no layer). Like
 * BuildKit's records, a step whose layer an image also has is "shared": removing
 * the cache entry frees nothing, so docker leaves it out of SIZE and RECLAIMABLE.
 * No step is ever in use once its build has ended (builds do not outlive tsrun).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import type { CachedStep } from './build/build-cache.js';
import { writeJsonReplace } from '../util/atomic.js';

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

function stepsFile(ctx: Ctx): string {
  return path.join(ctx.root, 'build-cache', 'steps.json');
}

function readSteps(ctx: Ctx): Record<string, CachedStep> {
  try {
    const v = JSON.parse(fs.readFileSync(stepsFile(ctx), 'utf8')) as Record<string, CachedStep>;
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {}; // none yet, or damaged: the cache treats that as empty too
  }
}

/** imageDiffIds: every layer diff_id some image has (those steps are shared). */
export function buildCacheUsage(ctx: Ctx, imageDiffIds: ReadonlySet<string>): CacheUsage[] {
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

/**
 * Forget cached steps: those whose layer no image has (docker's dangling
 * cache), or with `all` every one (`builder prune -a`). The layers only the
 * cache kept are then collected by the caller's GC. Returns the entries that
 * went and the bytes of those no image shares.
 */
export function pruneBuildCache(ctx: Ctx, imageDiffIds: ReadonlySet<string>, all: boolean): { ids: string[]; bytes: number } {
  const steps = readSteps(ctx);
  const gone = buildCacheUsage(ctx, imageDiffIds).filter((u) => all || !u.shared);
  if (!gone.length) return { ids: [], bytes: 0 };
  const keep = Object.fromEntries(Object.entries(steps).filter(([k]) => !gone.some((g) => g.id === k.replace(/^sha256:/, ''))));
  writeJsonReplace(stepsFile(ctx), keep);
  return { ids: gone.map((u) => u.id), bytes: gone.filter((u) => !u.shared).reduce((a, u) => a + u.size, 0) };
}
