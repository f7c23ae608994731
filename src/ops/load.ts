/**
 * `tsrun load`: images from a docker-archive or oci-archive (plain or gzip),
 * read from a stream in one pass (stdin cannot seek).
 *
 * Steps: spool every member into the content store's ingest area while
 * hashing (archive/spool.ts) → match members to manifests and check every
 * digest and size (archive/images.ts) → adopt the blobs → unpack missing
 * layers → record each image (last). If anything fails, the blobs and layers
 * this load added are removed again unless something else uses them by then.
 */
import type { Readable } from 'node:stream';
import type { Ctx } from '../context.js';
import { withContentLock } from '../context.js';
import { spoolArchive } from '../archive/spool.js';
import { readArchiveImages } from '../archive/images.js';
import { storeImageBytes } from './layers.js';
import { ensureImageLayers } from '../images/unpack.js';
import { chainIds } from '../oci/digest.js';
import { removeUnreferenced } from './gc.js';

export interface LoadedImage {
  id: string;
  tags: string[];
}

export async function loadImages(ctx: Ctx, input: Readable): Promise<LoadedImage[]> {
  const addedBlobs: string[] = [];
  const addedLayers: string[] = [];
  try {
    return await withContentLock(ctx, async () => {
      const archive = await spoolArchive(ctx.content, input);
      try {
        const images = readArchiveImages(archive);
        const out: LoadedImage[] = [];
        for (const img of images) {
          for (const m of img.blobs) if (archive.adopt(ctx.content, m)) addedBlobs.push(m.digest);
          for (const c of chainIds(img.config.rootfs.diff_ids)) if (!ctx.layers.has(c)) addedLayers.push(c);
          await ensureImageLayers(ctx, img.manifest, img.config);
          const rec = storeImageBytes(ctx, img.manifestBytes, img.manifestMediaType, img.configBytes, img.tags);
          out.push({ id: rec.id, tags: img.tags });
        }
        return out;
      } finally {
        archive.cleanup();
      }
    });
  } catch (err) {
    await removeUnreferenced(ctx, addedBlobs, addedLayers).catch(() => {});
    throw err;
  }
}
