/**
 * Layers in and out of the stores: the shared steps of pull, load, import and commit.
 *
 *  - ingestLayer: one pass over a layer blob: stored in the content store
 *    (digest/size verified) while a copy is decompressed, hashed (diff_id) and
 *    unpacked into the layer store.
 *  - ensureImageLayers: unpack the layers of an image whose blobs are already
 *    in the content store (after load, or after a crash / gc of layers).
 *  - storeImage: config + manifest blobs, then the image record: always the
 *    last step, so a tag never points at something missing.
 *
 * Callers hold withContentLock(ctx, …) around all of it, so gc cannot remove
 * a blob or layer between the moment it is written and the moment an image
 * refers to it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import type { Ctx } from './context.js';
import type { BlobInfo } from '../content/store.js';
import type { Descriptor, ImageConfig, Manifest } from '../oci/types.js';
import { chainIds, sha256 } from '../oci/digest.js';
import { TsrunError } from '../util/errors.js';
import { openDecompressed } from '../util/compress.js';
import { applyLayer, type ApplyOptions } from '../diff/apply.js';
import { markTopDir } from '../diff/topdir.js';
import type { ImageRecord } from '../images/store.js';

/** Bounds for unpacking untrusted layers; env knobs let tests use low limits. */
export function layerLimits(): ApplyOptions {
  const n = (v: string | undefined) => (v && /^\d+$/.test(v) ? Number(v) : undefined);
  const o: ApplyOptions = {};
  const entries = n(process.env.TSRUN_MAX_LAYER_ENTRIES);
  const bytes = n(process.env.TSRUN_MAX_LAYER_BYTES);
  if (entries !== undefined) o.maxEntries = entries;
  if (bytes !== undefined) o.maxBytes = bytes;
  return o;
}

export function chainIdOf(parent: string | null, diffId: string): string {
  return parent ? sha256(`${parent} ${diffId}`) : diffId;
}

/** Hashes what passes through (the uncompressed layer: its sha256 is the diff_id). */
class Hasher extends Transform {
  readonly hash = crypto.createHash('sha256');
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    cb(null, chunk);
  }
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/**
 * Decompress (by magic bytes), hash and unpack `input` into `dir`. Returns
 * the diff_id and content size; throws DIGEST_MISMATCH when `expectDiffId`
 * is given and differs. `knownDiffId`: the input is an uncompressed blob
 * whose digest (already verified by the content store) is this diff_id, so
 * hashing it again is skipped.
 */
export async function unpackLayerStream(
  input: Readable,
  dir: string,
  expectDiffId: string | undefined,
  what: string,
  knownDiffId?: string,
): Promise<{ diffId: string; size: number }> {
  markTopDir(dir); // the layer dir is fresh: spread its tree over ext4 block groups (diff/topdir.ts)
  if (knownDiffId) {
    const r = await applyLayer(input, dir, layerLimits());
    return { diffId: knownDiffId, size: r.bytes };
  }
  const { stream } = await openDecompressed(input);
  const hasher = new Hasher();
  stream.on('error', (err) => hasher.destroy(err));
  stream.pipe(hasher);
  const r = await applyLayer(hasher, dir, layerLimits());
  const diffId = hasher.digest();
  if (expectDiffId && diffId !== expectDiffId) {
    throw new TsrunError('DIGEST_MISMATCH', `${what}: uncompressed digest ${diffId} does not match the diff_id ${expectDiffId} of the image config`, {
      hint: 'the layer is corrupt or was tampered with; nothing was stored',
    });
  }
  return { diffId, size: r.bytes };
}

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
      const info = await ctx.layers.ensure(chainId, parentChainId, diffId, async (dir) => unpackLayerStream(copy, dir, diffId, what));
      size = info.size;
    });
    return { blob, diffId, chainId, size };
  }
  // diff_id unknown up front: unpack into a temp dir, adopt when the hash is known
  const tmp = ctx.layers.makeTemp();
  try {
    const diff = path.join(tmp, 'diff');
    fs.mkdirSync(diff, { mode: 0o755 });
    let result: { diffId: string; size: number } | undefined;
    const blob = await ctx.content.ingest(input, desc ? { digest: desc.digest, size: desc.size, what } : { what }, async (copy) => {
      result = await unpackLayerStream(copy, diff, diffId, what);
    });
    const chainId = chainIdOf(parentChainId, result!.diffId);
    const info = ctx.layers.adopt(tmp, { chainId, diffId: result!.diffId, parent: parentChainId, size: result!.size });
    return { blob, diffId: result!.diffId, chainId, size: info.size };
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Unpack every layer of an image that is not in the layer store yet, from
 * the blobs in the content store, checking each against its diff_id.
 * Returns the chain IDs, bottom first.
 */
export async function ensureImageLayers(ctx: Ctx, manifest: Manifest, config: ImageConfig): Promise<string[]> {
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw new TsrunError('INVALID_ARCHIVE', `image has ${manifest.layers.length} layers but its config lists ${diffIds.length} diff_ids`, {
      hint: 'the image is malformed',
    });
  }
  const chains = chainIds(diffIds);
  for (let i = 0; i < chains.length; i++) {
    const chainId = chains[i]!;
    if (ctx.layers.has(chainId)) continue;
    const desc = manifest.layers[i]!;
    const diffId = diffIds[i]!;
    const parent = i === 0 ? null : chains[i - 1]!;
    await ctx.layers.ensure(chainId, parent, diffId, async (dir) =>
      // a blob whose digest is the diff_id is an uncompressed tar already verified by its digest: no second hash
      desc.digest === diffId
        ? unpackLayerStream(ctx.content.open(desc.digest), dir, undefined, `layer ${desc.digest}`, diffId)
        : unpackLayerStream(ctx.content.open(desc.digest), dir, diffId, `layer ${desc.digest}`),
    );
  }
  return chains;
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
