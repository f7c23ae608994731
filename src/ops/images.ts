/** `tsrun images`: one row per (image, tag), untagged images as <none>:<none>. */
import type { Ctx } from '../context.js';
import { parseReference, repoName, splitTagged } from '../oci/reference.js';
import { chainIds } from '../oci/digest.js';
import type { ImageConfig } from '../oci/types.js';
import { listMembers } from '../images/store.js';

export interface ImageRow {
  id: string;
  /** Normalised repository (registry/repo) or '<none>'. */
  repository: string;
  tag: string;
  created?: string;
  /** Sum of the image's layer content sizes. */
  size: number;
  repoDigests: string[];
}

/** Sum of the sizes of an image's layers in the layer store (missing layers count 0). */
export function imageSize(ctx: Ctx, config: ImageConfig): number {
  let size = 0;
  for (const c of chainIds(config.rootfs?.diff_ids ?? [])) {
    try {
      size += ctx.layers.info(c).size;
    } catch {
      /* not unpacked */
    }
  }
  return size;
}

export function listImages(ctx: Ctx, filter?: string): ImageRow[] {
  let want: { repo: string; tag?: string } | undefined;
  if (filter) {
    const r = parseReference(filter);
    // `tsrun images busybox` lists every tag of busybox; `busybox:1` only that one
    want = { repo: repoName(r), tag: /:[^/]+$/.test(filter.split('@')[0]!) ? r.tag : undefined };
  }
  const idx = ctx.images.read();
  const rows: ImageRow[] = [];
  const listed = listMembers(idx);
  for (const rec of Object.values(idx.images)) {
    let config: ImageConfig;
    try {
      config = ctx.content.readJson<ImageConfig>(rec.id, 8 * 1024 * 1024);
    } catch {
      continue; // a damaged record: nothing useful to show
    }
    const size = imageSize(ctx, config);
    const tags = ctx.images.tagsOf(idx, rec.id);
    const base = { id: rec.id, created: config.created, size, repoDigests: rec.repoDigests };
    if (!tags.length) {
      // another platform's image of a multi-platform name: part of that name's row, not <none>
      if (!want && !listed.has(rec.id)) rows.push({ ...base, repository: '<none>', tag: '<none>' });
      continue;
    }
    for (const t of tags) {
      const { repository, tag } = splitTagged(t);
      if (want && (repository !== want.repo || (want.tag && want.tag !== tag))) continue;
      rows.push({ ...base, repository, tag });
    }
  }
  return rows.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '') || a.repository.localeCompare(b.repository) || a.tag.localeCompare(b.tag));
}
