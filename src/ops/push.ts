/**
 * `tsrun push`: local image → registry.
 *
 *  1. layers stored uncompressed (import, commit) are gzipped first — in
 *     parallel pieces on every core (registry/pgzip.ts) — into the content
 *     store, and remembered (diff_id → gzip blob in content/compressed.json)
 *     so the next push of the same layer reuses it.
 *  2. each blob (layers, then config): HEAD → already there; else a
 *     cross-repository mount from a repository of the same registry it is
 *     known to be in (content/sources.json); else upload (monolithic up to
 *     32 MiB, chunked PATCH above). Up to 3 blobs at once.
 *  3. the manifest in the image's own format (OCI or docker schema2); when a
 *     layer was compressed here its descriptor and media type change, which
 *     makes a new manifest — the config is the same, so the image ID is too.
 *  4. RepoDigest recorded on the image.
 * A name that holds an image index pushes every platform's image, then the index (pushList).
 */
import fs from 'node:fs';
import type { Ctx } from '../context.js';
import { withContentLock } from '../context.js';
import { TsrunError, isTsrunError } from '../util/errors.js';
import { sha256, shortId } from '../oci/digest.js';
import { MT, layerCompression, layerMediaType } from '../oci/mediatypes.js';
import { parseReference, repoName } from '../oci/reference.js';
import type { Descriptor, Index, Manifest } from '../oci/types.js';
import type { ImageRecord, ListRecord } from '../images/store.js';
import { pushClient } from '../registry/session.js';
import type { RegistryClient } from '../registry/client.js';
import { compressedFor, rememberCompressed, rememberSources, sourcesOf } from '../registry/blobmeta.js';
import { gzipFileParallel } from '../registry/pgzip.js';
import { mapLimit } from '../registry/limit.js';

export type PushStatus = 'Preparing' | 'Compressing' | 'Pushing' | 'Pushed' | 'Layer already exists' | `Mounted from ${string}`;

export interface PushEvent {
  id: string;
  status: PushStatus;
}

export interface PushOptions {
  onEvent?: (e: PushEvent) => void;
  /** gzip level for layers stored uncompressed (default 6, env TSRUN_PUSH_GZIP_LEVEL). */
  gzipLevel?: number;
  concurrency?: number;
}

export interface PushResult {
  /** registry/repo */
  repository: string;
  tag: string;
  digest: string;
  size: number;
}

function gzipLevel(o: PushOptions): number {
  const env = Number(process.env.TSRUN_PUSH_GZIP_LEVEL);
  return o.gzipLevel ?? (Number.isInteger(env) && env >= 1 && env <= 9 ? env : 6);
}

/** The descriptor to push for a layer: itself if compressed, else its gzip (made now or reused). */
async function pushableLayer(
  ctx: Ctx,
  desc: Descriptor,
  diffId: string,
  format: 'oci' | 'docker',
  o: PushOptions,
  upload?: { client: RegistryClient; repo: string; done: boolean },
): Promise<Descriptor> {
  const c = layerCompression(desc.mediaType);
  if (c !== 'none') return desc;
  const mediaType = layerMediaType(format, 'gzip');
  const known = compressedFor(ctx, diffId);
  if (known) return { ...desc, mediaType, digest: known.digest, size: known.size };
  o.onEvent?.({ id: shortId(desc.digest), status: 'Compressing' });
  const source = gzipFileParallel(ctx.content.blobPath(desc.digest), gzipLevel(o));
  let blob: { digest: string; size: number };
  if (!upload) {
    blob = await ctx.content.ingest(source, { what: `gzip of layer ${desc.digest}` });
  } else {
    // compress once, and send the bytes to the registry while they are stored and hashed
    let pending: { commit(d: string): Promise<void> } | undefined;
    blob = await ctx.content.ingest(source, { what: `gzip of layer ${desc.digest}` }, async (copy) => {
      pending = await upload.client.uploadStream(upload.repo, copy);
    });
    await pending!.commit(blob.digest);
    upload.done = true;
  }
  try {
    rememberCompressed(ctx, diffId, blob);
  } catch {
    /* a cache */
  }
  return { ...desc, mediaType, digest: blob.digest, size: blob.size };
}

const readAt = (fd: number, len: number, pos: number) =>
  new Promise<Buffer>((resolve, reject) => {
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    const step = () =>
      fs.read(fd, buf, got, len - got, pos + got, (err, n) => {
        if (err) return reject(err);
        if (n === 0) return reject(new TsrunError('INTERNAL', 'blob ended early while uploading'));
        got += n;
        if (got < len) step();
        else resolve(buf);
      });
    step();
  });

async function pushBlob(ctx: Ctx, client: RegistryClient, repo: string, fullRepo: string, desc: Descriptor, emit: (s: PushStatus) => void): Promise<void> {
  if (await client.hasBlob(repo, desc.digest)) {
    emit('Layer already exists');
    return;
  }
  const prefix = `${client.registry}/`;
  for (const src of sourcesOf(ctx, desc.digest)) {
    if (!src.startsWith(prefix) || src === fullRepo) continue;
    const from = src.slice(prefix.length);
    if (await client.mountBlob(repo, desc.digest, from)) {
      emit(`Mounted from ${from}`);
      return;
    }
  }
  emit('Pushing');
  const fd = fs.openSync(ctx.content.blobPath(desc.digest), 'r');
  try {
    await client.uploadBlob(repo, desc.digest, desc.size, (off, len) => readAt(fd, len, off));
  } finally {
    fs.closeSync(fd);
  }
  emit('Pushed');
}

/**
 * One image's blobs and its manifest, put under `reference` (the tag, or for an index's
 * member the manifest's own digest). Returns the manifest as the registry has it.
 */
async function pushOne(ctx: Ctx, client: RegistryClient, repo: string, fullRepo: string, rec: ImageRecord, reference: string | undefined, o: PushOptions): Promise<{ digest: string; bytes: Buffer; mediaType: string }> {
  const img = ctx.images.image(rec);
  const format: 'oci' | 'docker' = rec.mediaType === MT.DOCKER_MANIFEST ? 'docker' : 'oci';
  const diffIds = img.config.rootfs?.diff_ids ?? [];
  const emit = (d: string) => (s: PushStatus) => o.onEvent?.({ id: shortId(d), status: s });
  // ask about the config first: a refused login or a missing registry fails here, before any compression
  const configThere = await client.hasBlob(repo, img.manifest.config.digest);
  for (const l of img.manifest.layers) emit(l.digest)('Preparing');
  // compress and upload each layer as one pipeline per layer; several layers at once
  const pushed = await mapLimit(img.manifest.layers, o.concurrency ?? 3, async (desc, i) => {
    const upload = { client, repo, done: false };
    const d = await pushableLayer(ctx, desc, diffIds[i] ?? desc.digest, format, o, upload);
    if (upload.done) emit(desc.digest)('Pushed');
    else await pushBlob(ctx, client, repo, fullRepo, d, emit(desc.digest));
    return d;
  });
  if (!configThere) await pushBlob(ctx, client, repo, fullRepo, img.manifest.config, () => {});
  const changed = pushed.some((d, i) => d.digest !== img.manifest.layers[i]!.digest);
  let bytes: Buffer;
  if (!changed) bytes = ctx.content.readBytes(rec.manifest, 4 * 1024 * 1024);
  else {
    const m: Manifest = { ...img.manifest, layers: pushed };
    if (format === 'docker') m.mediaType = MT.DOCKER_MANIFEST;
    bytes = Buffer.from(JSON.stringify(m));
    ctx.content.putBytes(bytes);
  }
  const digest = await client.putManifest(repo, reference ?? sha256(bytes), bytes, rec.mediaType);
  if (digest !== sha256(bytes)) {
    throw new TsrunError('DIGEST_MISMATCH', `the registry stored the manifest as ${digest}, not ${sha256(bytes)}`, { hint: 'the registry rewrote the manifest; report it' });
  }
  try {
    rememberSources(ctx, [...pushed.map((d) => d.digest), img.manifest.config.digest], fullRepo);
  } catch {
    /* a cache */
  }
  return { digest, bytes, mediaType: rec.mediaType };
}

export async function pushImage(ctx: Ctx, refText: string, o: PushOptions = {}): Promise<PushResult> {
  const ref = parseReference(refText);
  if (ref.digest) throw new TsrunError('USAGE', `cannot push a digest reference ${refText}`, { hint: 'push a tag: NAME[:TAG]' });
  const fullRepo = repoName(ref);
  const name = `${fullRepo}:${ref.tag}`;
  try {
    return await withContentLock(ctx, async () => {
      const idx = ctx.images.read();
      const rec = ctx.images.tryResolve(name, idx);
      if (!rec) throw new TsrunError('NOT_FOUND', `an image does not exist locally with the tag ${name}`, { hint: `tag an image first: tsrun tag IMAGE ${refText}` });
      const client = pushClient(ref.registry);
      const list = idx.lists?.[name];
      if (list) return await pushList(ctx, client, ref.repository, fullRepo, ref.tag!, name, list, o);
      const r = await pushOne(ctx, client, ref.repository, fullRepo, rec, ref.tag!, o);
      ctx.images.update((i) => {
        const x = i.images[rec.id];
        if (x) x.repoDigests = [...new Set([...x.repoDigests, `${fullRepo}@${r.digest}`])];
      });
      return { repository: fullRepo, tag: ref.tag!, digest: r.digest, size: r.bytes.length };
    });
  } catch (err) {
    if (!isTsrunError(err) || err.message.includes(name)) throw err;
    throw new TsrunError(err.code, `pushing ${name}: ${err.message}`, { hint: err.hint, cause: err, exitCode: err.explicitExitCode });
  }
}

/**
 * A name that holds an image index (a multi-platform build): each platform's image pushed by
 * its digest, then the index under the tag, as `docker buildx --push` and `podman manifest push
 * --all` do. A member whose layers were compressed here has a new manifest digest, so the
 * index pushed names those (and is stored too); the index's digest is the RepoDigest.
 */
async function pushList(ctx: Ctx, client: RegistryClient, repo: string, fullRepo: string, tag: string, name: string, list: ListRecord, o: PushOptions): Promise<PushResult> {
  const idx = ctx.images.read();
  const old = ctx.content.readJson<Index>(list.digest, 4 * 1024 * 1024);
  const manifests: Descriptor[] = [];
  for (const [i, m] of list.manifests.entries()) {
    const rec = idx.images[m.id];
    if (!rec) throw new TsrunError('NOT_FOUND', `image ${m.id} of ${name}'s index is not in the store`, { hint: 'build or pull the image again' });
    const r = await pushOne(ctx, client, repo, fullRepo, rec, undefined, o);
    manifests.push({ ...(old.manifests[i] ?? {}), mediaType: r.mediaType, digest: r.digest, size: r.bytes.length, platform: m.platform });
  }
  const changed = manifests.some((d, i) => d.digest !== old.manifests[i]?.digest);
  const bytes = changed ? Buffer.from(JSON.stringify({ ...old, manifests })) : ctx.content.readBytes(list.digest, 4 * 1024 * 1024);
  if (changed) ctx.content.putBytes(bytes);
  const digest = await client.putManifest(repo, tag, bytes, list.mediaType);
  if (digest !== sha256(bytes)) {
    throw new TsrunError('DIGEST_MISMATCH', `the registry stored the index as ${digest}, not ${sha256(bytes)}`, { hint: 'the registry rewrote the index; report it' });
  }
  ctx.images.update((i) => {
    const l = i.lists?.[name];
    if (l && l.digest === list.digest) l.repoDigests = [...new Set([...l.repoDigests, `${fullRepo}@${digest}`])];
  });
  return { repository: fullRepo, tag, digest, size: bytes.length };
}
