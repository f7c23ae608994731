/**
 * `docker image inspect`-shaped JSON for an image. RepoTags use familiar
 * names as docker shows them ("busybox:latest"); History is included too
 * (docker leaves it out; tsrun's issue asks for it).
 */
import type { Ctx } from '../context.js';
import { imageSize } from './images.js';
import { familiarName } from '../oci/reference.js';
import type { ImageConfig } from '../oci/types.js';

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Author: string;
  Config: ImageConfig['config'] | null;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  RootFS: { Type: 'layers'; Layers: string[] };
  History: ImageConfig['history'];
  Metadata: { LastTagTime: string };
  /** tsrun extras: where the image's manifest is. */
  ManifestDigest: string;
  ManifestMediaType: string;
  /** tsrun extra: the image index the inspected name holds (a multi-platform build), when it holds one. */
  IndexDigest?: string;
}

export function inspectImage(ctx: Ctx, ref: string): ImageInspect {
  const idx = ctx.images.read();
  const rec = ctx.images.resolve(ref, idx);
  const img = ctx.images.image(rec, idx);
  const c = img.config;
  const last = c.history?.length ? c.history[c.history.length - 1] : undefined;
  const out: ImageInspect = {
    Id: rec.id,
    RepoTags: img.tags.map((t) => familiarName(t)),
    // an index pushed from a name that points here: its digest is this image's RepoDigest too (docker's containerd store)
    RepoDigests: [...new Set([...rec.repoDigests, ...img.tags.flatMap((t) => (idx.lists?.[t]?.manifests.some((m) => m.id === rec.id) ? idx.lists[t]!.repoDigests : []))])].map((d) => familiarName(d)),
    Parent: '',
    Comment: last?.comment ?? '',
    Created: c.created ?? '',
    Author: c.author ?? '',
    Config: c.config ?? null,
    Architecture: c.architecture,
    Os: c.os,
    Size: imageSize(ctx, c),
    RootFS: { Type: 'layers', Layers: c.rootfs?.diff_ids ?? [] },
    History: c.history ?? [],
    Metadata: { LastTagTime: rec.added },
    ManifestDigest: rec.manifest,
    ManifestMediaType: rec.mediaType,
  };
  if (c.variant) out.Variant = c.variant;
  const list = ctx.images.listOf(ref, idx);
  if (list) out.IndexDigest = list.digest;
  return out;
}
