/**
 * Small per-store facts about blobs that make pushes cheaper, kept next to
 * the content store and written atomically under a lock:
 *  - ROOT/content/compressed.json: diff_id → the gzip blob made for it at an
 *    earlier push ({digest, size}), so a layer is compressed once.
 *  - ROOT/content/sources.json: blob digest → `registry/repository` names it
 *    was pulled from or pushed to, so a push to another repository of the
 *    same registry can ask for a cross-repository mount instead of uploading.
 * Both are caches: a stale entry (blob gone) is ignored and rewritten.
 */
import path from 'node:path';
import type { Ctx } from '../context.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomic.js';
import { withLockSync } from '../util/lock.js';

export interface CompressedBlob {
  digest: string;
  size: number;
}

const MAX_SOURCES = 8;

function file(ctx: Ctx, name: string): string {
  return path.join(ctx.content.dir, name);
}

function readMap<T>(f: string): Record<string, T> {
  try {
    const v = readJsonIfExists<Record<string, T>>(f);
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {}; // a corrupt cache is an empty cache
  }
}

function updateMap<T>(f: string, fn: (m: Record<string, T>) => void): void {
  withLockSync(`${f}.lock`, () => {
    const m = readMap<T>(f);
    fn(m);
    writeJsonAtomic(f, m);
  });
}

export function compressedFor(ctx: Ctx, diffId: string): CompressedBlob | undefined {
  const hit = readMap<CompressedBlob>(file(ctx, 'compressed.json'))[diffId];
  if (!hit || ctx.content.size(hit.digest) !== hit.size) return undefined;
  return hit;
}

export function rememberCompressed(ctx: Ctx, diffId: string, blob: CompressedBlob): void {
  updateMap<CompressedBlob>(file(ctx, 'compressed.json'), (m) => {
    m[diffId] = { digest: blob.digest, size: blob.size };
  });
}

/** Repositories (`registry/repo`) a blob is known to be in. */
export function sourcesOf(ctx: Ctx, digest: string): string[] {
  return readMap<string[]>(file(ctx, 'sources.json'))[digest] ?? [];
}

export function rememberSources(ctx: Ctx, digests: string[], repo: string): void {
  if (!digests.length) return;
  updateMap<string[]>(file(ctx, 'sources.json'), (m) => {
    for (const d of digests) {
      const list = (m[d] ?? []).filter((r) => r !== repo);
      list.unshift(repo);
      m[d] = list.slice(0, MAX_SOURCES);
    }
  });
}
