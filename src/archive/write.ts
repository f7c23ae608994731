/**
 * Write images as a docker-archive or an oci-archive (a stream of tar bytes).
 *
 * docker-archive (what `docker save` / `podman save` write, blob paths as in
 * moby 25): manifest.json [{Config, RepoTags, Layers}], repositories, the
 * config at blobs/sha256/HEX and each layer *uncompressed* at
 * blobs/sha256/DIFFID-HEX, so every layer tar hashes to its diff_id.
 * Compressed blobs are decompressed to a temp file first (a tar header needs
 * the size up front).
 *
 * oci-archive: oci-layout, index.json (one entry per name, ref.name and
 * io.containerd.image.name annotations), blobs/sha256/* exactly as stored. A name that
 * holds an image index (a multi-platform build) is saved as that index, with every
 * platform's image; a docker-archive has no index: it gets the name's own image.
 */
import fs from 'node:fs';
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Ctx } from '../context.js';
import type { Image } from '../images/store.js';
import { MT } from '../oci/mediatypes.js';
import { encoded } from '../oci/digest.js';
import { familiarName, splitTagged } from '../oci/reference.js';
import { openDecompressed, detectCompression } from '../util/compress.js';
import { TsrunError } from '../util/errors.js';
import { bytesMember, dirMember, endOfArchive, fileMember } from './tarwriter.js';

export interface SaveItem {
  image: Image;
  /** Normalised tagged names to record for it (empty when saved by ID). */
  names: string[];
  /** Names (of `names`) that hold an image index: its blob and every platform's image. */
  lists?: Map<string, { digest: string; mediaType: string; images: Image[] }>;
}

const blobName = (digest: string) => `blobs/sha256/${encoded(digest)}`;

function isPlainTar(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    return detectCompression(b.subarray(0, fs.readSync(fd, b, 0, 4, 0))) === 'none';
  } finally {
    fs.closeSync(fd);
  }
}

/** The uncompressed layer as a file: the blob itself, or a temp file decompressed from it (checked against diffId). */
async function uncompressedLayer(ctx: Ctx, blob: string, diffId: string, temps: string[]): Promise<{ file: string; size: number }> {
  const p = ctx.content.blobPath(blob);
  if (blob === diffId || isPlainTar(p)) return { file: p, size: fs.statSync(p).size };
  const tmp = `${ctx.tmpDir}/${process.pid}-save-${crypto.randomBytes(6).toString('hex')}`;
  temps.push(tmp);
  const { stream } = await openDecompressed(ctx.content.open(blob));
  const hash = crypto.createHash('sha256');
  stream.on('data', (c: Buffer) => hash.update(c));
  await pipeline(stream, fs.createWriteStream(tmp, { highWaterMark: 1 << 20 }));
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== diffId) throw new TsrunError('DIGEST_MISMATCH', `layer ${blob} uncompresses to ${got}, not its diff_id ${diffId}`, { hint: 'the store is damaged; remove the image and pull or load it again' });
  return { file: tmp, size: fs.statSync(tmp).size };
}

export async function* dockerArchive(ctx: Ctx, items: SaveItem[]): AsyncGenerator<Buffer> {
  const temps: string[] = [];
  try {
    const written = new Set<string>();
    const manifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    yield* dirMember('blobs');
    yield* dirMember('blobs/sha256');
    for (const { image, names } of items) {
      const diffIds = image.config.rootfs.diff_ids;
      const layers: string[] = [];
      for (let i = 0; i < diffIds.length; i++) {
        const name = blobName(diffIds[i]!);
        layers.push(name);
        if (written.has(name)) continue;
        written.add(name);
        const { file, size } = await uncompressedLayer(ctx, image.manifest.layers[i]!.digest, diffIds[i]!, temps);
        yield* fileMember(name, file, size);
      }
      const cfgName = blobName(image.record.id);
      if (!written.has(cfgName)) {
        written.add(cfgName);
        yield* bytesMember(cfgName, ctx.content.readBytes(image.record.id, 8 * 1024 * 1024));
      }
      const tags = names.map((n) => familiarName(n));
      manifest.push({ Config: cfgName, RepoTags: tags.length ? tags : null, Layers: layers });
      for (const n of names) {
        const { repository, tag } = splitTagged(n);
        (repositories[familiarName(repository)] ??= {})[tag] = encoded(diffIds[diffIds.length - 1] ?? image.record.id);
      }
    }
    yield* bytesMember('manifest.json', Buffer.from(JSON.stringify(manifest) + '\n'));
    if (Object.keys(repositories).length) yield* bytesMember('repositories', Buffer.from(JSON.stringify(repositories) + '\n'));
    yield endOfArchive();
  } finally {
    for (const t of temps) fs.rmSync(t, { force: true });
  }
}

export async function* ociArchive(ctx: Ctx, items: SaveItem[]): AsyncGenerator<Buffer> {
  const blobs = new Set<string>();
  const index: { schemaVersion: 2; mediaType: string; manifests: object[] } = { schemaVersion: 2, mediaType: MT.OCI_INDEX, manifests: [] };
  const addImage = (image: Image) => {
    blobs.add(image.record.manifest);
    blobs.add(image.manifest.config.digest);
    for (const l of image.manifest.layers) blobs.add(l.digest);
  };
  for (const { image, names, lists } of items) {
    addImage(image);
    const desc = { mediaType: image.record.mediaType, digest: image.record.manifest, size: ctx.content.size(image.record.manifest)! };
    if (!names.length) index.manifests.push(desc);
    for (const n of names) {
      const list = lists?.get(n);
      if (list) {
        blobs.add(list.digest);
        for (const m of list.images) addImage(m);
      }
      const d = list ? { mediaType: list.mediaType, digest: list.digest, size: ctx.content.size(list.digest)! } : desc;
      index.manifests.push({ ...d, annotations: { 'io.containerd.image.name': n, 'org.opencontainers.image.ref.name': n } });
    }
  }
  yield* dirMember('blobs');
  yield* dirMember('blobs/sha256');
  for (const d of [...blobs].sort()) {
    const size = ctx.content.size(d);
    if (size === undefined) throw new TsrunError('NOT_FOUND', `blob ${d} is missing from the content store`, { hint: 'the store is damaged; pull or load the image again' });
    yield* fileMember(blobName(d), ctx.content.blobPath(d), size);
  }
  yield* bytesMember('index.json', Buffer.from(JSON.stringify(index) + '\n'));
  yield* bytesMember('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }) + '\n'));
  yield endOfArchive();
}
