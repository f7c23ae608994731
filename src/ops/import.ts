/**
 * `tsrun import FILE|- [REF]`: a root filesystem tarball (plain, gzip or zstd,
 * detected by its bytes) becomes a one-layer image with an OCI manifest.
 */
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { Ctx } from '../context.js';
import { withContentLock } from '../context.js';
import { ingestLayer, storeImage } from './layers.js';
import { applyChanges } from '../images/change.js';
import { normaliseTag } from '../images/store.js';
import { MT, layerMediaType } from '../oci/mediatypes.js';
import { hostPlatform, type ImageConfig, type ImageRunConfig, type Manifest, type Platform } from '../oci/types.js';
import { detectCompression } from '../util/compress.js';
import { syscallError } from '../util/errors.js';

export interface ImportOptions {
  /** A file path, or '-' for stdin. */
  source: string;
  ref?: string;
  changes?: string[];
  message?: string;
  /** The platform the config names (docker import --platform); the host's by default. */
  platform?: Platform;
  /** Stdin stream (the CLI passes process.stdin). */
  stdin?: Readable;
}

function openSource(o: ImportOptions): Readable {
  if (o.source === '-') return o.stdin ?? process.stdin;
  try {
    const fd = fs.openSync(o.source, 'r');
    if (!fs.fstatSync(fd).isFile()) {
      fs.closeSync(fd);
      throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
    }
    return fs.createReadStream('', { fd, highWaterMark: 1 << 20 });
  } catch (err) {
    throw syscallError(`cannot read ${o.source}`, err);
  }
}

function blobCompression(ctx: Ctx, digest: string) {
  const fd = fs.openSync(ctx.content.blobPath(digest), 'r');
  try {
    const b = Buffer.alloc(4);
    const n = fs.readSync(fd, b, 0, 4, 0);
    return detectCompression(b.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
}

/** Returns the new image ID (config digest). */
export async function importImage(ctx: Ctx, o: ImportOptions): Promise<string> {
  // check everything the user typed before reading a byte
  const tags = o.ref ? [normaliseTag(o.ref)] : [];
  const runConfig: ImageRunConfig = applyChanges({}, o.changes ?? []);
  const input = openSource(o);
  return withContentLock(ctx, async () => {
    const layer = await ingestLayer(ctx, input, undefined, undefined, null);
    const created = new Date().toISOString();
    const p = o.platform ?? hostPlatform();
    const config: ImageConfig = {
      created,
      architecture: p.architecture,
      os: p.os,
      ...(p.variant ? { variant: p.variant } : {}),
      config: runConfig,
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created, created_by: 'import', comment: o.message ?? `Imported from ${o.source}` }],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const cfgBlob = ctx.content.putBytes(configBytes);
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MT.OCI_MANIFEST,
      config: { mediaType: MT.OCI_CONFIG, digest: cfgBlob.digest, size: cfgBlob.size },
      layers: [{ mediaType: layerMediaType('oci', blobCompression(ctx, layer.blob.digest)), digest: layer.blob.digest, size: layer.blob.size }],
    };
    const rec = storeImage(ctx, { manifest, manifestMediaType: MT.OCI_MANIFEST, config: configBytes, tags });
    return rec.id;
  });
}
