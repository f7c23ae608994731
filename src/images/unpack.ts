/**
 * Prepare an image's layers: unpack, from the blobs in the content store, the
 * layers the layer store does not hold unpacked yet (registered by commit,
 * collected, or never unpacked), checking each against its diff_id. Shared by
 * create (before a container mounts them) and by the ops that bring layers in
 * (ops/layers.ts ingestLayer uses unpackLayerStream).
 */
import crypto from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import type { Ctx } from '../context.js';
import type { ImageConfig, Manifest } from '../oci/types.js';
import { chainIds, sha256 } from '../oci/digest.js';
import { TsrunError } from '../util/errors.js';
import { openDecompressed } from '../util/compress.js';
import { applyLayer, type ApplyOptions } from '../diff/apply.js';
import { markTopDir } from '../diff/topdir.js';

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
 * hashing it again is skipped. `blobIsHashed`: the caller hashes the input
 * (sha256) as it stores it; when the input turns out to be uncompressed, that
 * hash is the diff_id, so it is not computed twice and `diffId` comes back
 * undefined (import: ~60 ms of the JS thread for a 100 MB layer).
 */
export async function unpackLayerStream(
  input: Readable,
  dir: string,
  expectDiffId: string | undefined,
  what: string,
  knownDiffId?: string,
  lowerDirs?: () => Promise<readonly string[]>,
  blobIsHashed?: boolean,
): Promise<{ diffId: string | undefined; size: number }> {
  const limits = { ...layerLimits(), lowerDirs };
  markTopDir(dir); // the layer dir is fresh: spread its tree over ext4 block groups (diff/topdir.ts)
  if (knownDiffId) {
    const r = await applyLayer(input, dir, limits);
    return { diffId: knownDiffId, size: r.bytes };
  }
  const { stream, compression } = await openDecompressed(input);
  if (blobIsHashed && compression === 'none' && !expectDiffId) {
    const r = await applyLayer(stream, dir, limits);
    return { diffId: undefined, size: r.bytes };
  }
  const hasher = new Hasher();
  stream.on('error', (err) => hasher.destroy(err));
  stream.pipe(hasher);
  const r = await applyLayer(hasher, dir, limits);
  const diffId = hasher.digest();
  if (expectDiffId && diffId !== expectDiffId) {
    throw new TsrunError('DIGEST_MISMATCH', `${what}: uncompressed digest ${diffId} does not match the diff_id ${expectDiffId} of the image config`, {
      hint: 'the layer is corrupt or was tampered with; nothing was stored',
    });
  }
  return { diffId, size: r.bytes };
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
    const lowers = () => ctx.layers.lowerDirs(parent);
    await ctx.layers.ensure(chainId, parent, diffId, async (dir) =>
      // a blob whose digest is the diff_id is an uncompressed tar already verified by its digest: no second hash
      desc.digest === diffId
        ? unpackLayerStream(ctx.content.open(desc.digest), dir, undefined, `layer ${desc.digest}`, diffId, lowers)
        : unpackLayerStream(ctx.content.open(desc.digest), dir, diffId, `layer ${desc.digest}`, undefined, lowers),
    );
  }
  return chains;
}

