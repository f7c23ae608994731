/**
 * Layers in and out of the stores: the shared steps of pull, load, import and commit.
 *
 *  - ingestLayer: one pass over a layer blob: stored in the content store
 *    (digest/size verified) while a copy is decompressed, hashed (diff_id) and
 *    unpacked into the layer store.
 *  - (ensureImageLayers, which unpacks an image's layers from blobs already in
 *    the content store, lives in images/unpack.ts: create needs it too.)
 *  - storeImage: config + manifest blobs, then the image record: always the
 *    last step, so a tag never points at something missing.
 *
 * Callers hold withContentLock(ctx, …) around all of it, so gc cannot remove
 * a blob or layer between the moment it is written and the moment an image
 * refers to it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Ctx } from '../context.js';
import type { BlobInfo } from '../content/store.js';
import type { Descriptor, Manifest } from '../oci/types.js';
import { unpackLayerStream, chainIdOf } from '../images/unpack.js';
import type { ImageRecord } from '../images/store.js';
import { removeTreeTolerant } from '../util/rmtree.js';

export interface IngestedLayer {
  blob: BlobInfo;
  diffId: string;
  chainId: string;
  /** Uncompressed content bytes of the layer. */
  size: number;
}

/**
 * Store a layer blob and unpack it in one pass. `desc` (when given) is the
 * blob's descriptor: digest and size are verified. `diffId` (when given) is
 * what the config says; when unknown (import) the layer is unpacked to a temp
 * dir and adopted once its hash is known.
 */
export async function ingestLayer(
  ctx: Ctx,
  input: Readable,
  desc: Descriptor | undefined,
  diffId: string | undefined,
  parentChainId: string | null,
): Promise<IngestedLayer> {
  const what = desc ? `layer ${desc.digest}` : 'layer';
  if (desc && diffId) {
    const chainId = chainIdOf(parentChainId, diffId);
    if (ctx.layers.has(chainId) && ctx.content.has(desc.digest)) {
      input.destroy();
      return { blob: { digest: desc.digest, size: desc.size }, diffId, chainId, size: ctx.layers.info(chainId).size };
    }
    let size = 0;
    const blob = await ctx.content.ingest(input, { digest: desc.digest, size: desc.size, what }, async (copy) => {
      const lowers = () => ctx.layers.lowerDirs(parentChainId);
      const info = await ctx.layers.ensure(chainId, parentChainId, diffId, async (dir) => unpackLayerStream(copy, dir, diffId, what, undefined, lowers));
      size = info.size;
    });
    return { blob, diffId, chainId, size };
  }
  // diff_id unknown up front: unpack into a temp dir, adopt when the hash is known
  const tmp = ctx.layers.makeTemp();
  try {
    const diff = path.join(tmp, 'diff');
    fs.mkdirSync(diff, { mode: 0o755 });
    let result: { diffId: string | undefined; size: number } | undefined;
    // without a descriptor the store hashes with sha256: for an uncompressed layer that is the diff_id, computed once
    const blob = await ctx.content.ingest(input, desc ? { digest: desc.digest, size: desc.size, what } : { what }, async (copy) => {
      result = await unpackLayerStream(copy, diff, diffId, what, undefined, () => ctx.layers.lowerDirs(parentChainId), !desc);
    });
    const layerDiffId = result!.diffId ?? blob.digest;
    const chainId = chainIdOf(parentChainId, layerDiffId);
    const info = ctx.layers.adopt(tmp, { chainId, diffId: layerDiffId, parent: parentChainId, size: result!.size });
    return { blob, diffId: layerDiffId, chainId, size: info.size };
  } catch (err) {
    removeTreeTolerant(tmp);
    throw err;
  }
}

export interface StoreImageInput {
  manifest: Manifest;
  manifestMediaType: string;
  /** The config's exact bytes (its digest is the image ID). */
  config: Buffer;
  /** Normalised tagged names (registry/repo:tag). */
  tags: string[];
  repoDigests?: string[];
}

/** Put config + manifest blobs, then record the image (last, so tags never dangle). */
export function storeImage(ctx: Ctx, input: StoreImageInput): ImageRecord {
  const config = ctx.content.putBytes(input.config, { digest: input.manifest.config.digest });
  const manifestBytes = Buffer.from(JSON.stringify(input.manifest));
  const manifest = ctx.content.putBytes(manifestBytes);
  return ctx.images.add(
    { id: config.digest, manifest: manifest.digest, mediaType: input.manifestMediaType, repoDigests: input.repoDigests ?? [] },
    input.tags,
  );
}

/** Store an already-serialised manifest (keeps its exact bytes, e.g. from an archive or registry). */
export function storeImageBytes(ctx: Ctx, manifestBytes: Buffer, manifestMediaType: string, config: Buffer, tags: string[], repoDigests: string[] = []): ImageRecord {
  const m = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
  const c = ctx.content.putBytes(config, { digest: m.config.digest, size: m.config.size });
  const man = ctx.content.putBytes(manifestBytes);
  return ctx.images.add({ id: c.digest, manifest: man.digest, mediaType: manifestMediaType, repoDigests }, tags);
}
