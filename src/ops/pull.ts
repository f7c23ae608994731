/**
 * `tsrun pull`: registry → content store → layer store → image record.
 *
 *  1. resolve the manifest (mirrors first, then the registry): by tag, or by
 *     digest (verified); an index is narrowed to the wanted platform and the
 *     child manifest fetched by digest (verified). RepoDigest = the digest of
 *     the top-level manifest bytes, as docker records it.
 *  2. the config blob (bounded, digest verified, diff_ids checked).
 *  3. layers, up to 3 at once: each blob is stored and unpacked in one pass
 *     (ingestLayer verifies digest, size and diff_id). A layer whose blob and
 *     unpacked dir are both present is not fetched. Unpacking in parallel is
 *     fine: a layer dir does not depend on its parent's content, only its
 *     chain ID does, and the config gives every diff_id up front.
 *  4. storeImageBytes: config + manifest blobs, then the tag (last).
 * On failure, blobs and layers this pull added that no image uses are removed.
 */
import { Transform, type Readable } from 'node:stream';
import type { Ctx } from '../context.js';
import { withContentLock } from '../context.js';
import { ingestLayer, storeImageBytes } from './layers.js';
import { TsrunError, isTsrunError } from '../util/errors.js';
import { chainIds, sha256, shortId } from '../oci/digest.js';
import { formatReference, parseReference, repoName, taggedName, type Reference } from '../oci/reference.js';
import { hostPlatform, type Descriptor, type Manifest, type Platform } from '../oci/types.js';
import type { RegistryClient, FetchedManifest } from '../registry/client.js';
import { pullClients } from '../registry/session.js';
import { checkConfig, formatPlatform, parseManifest, pickPlatform } from '../registry/manifest.js';
import { mapLimit } from '../registry/limit.js';
import { rememberSources } from '../registry/blobmeta.js';
import { newAdded, rollback, type Added } from '../registry/rollback.js';

export type LayerStatus = 'Already exists' | 'Pulling fs layer' | 'Waiting' | 'Downloading' | 'Pull complete';

export type PullEvent =
  | { type: 'start'; ref: Reference; tagOrDigest: string }
  | { type: 'layer'; id: string; status: LayerStatus; current?: number; total?: number };

export interface PullOptions {
  platform?: Platform;
  /** Layers fetched at once (default 3). */
  concurrency?: number;
  onEvent?: (e: PullEvent) => void;
}

export interface PullResult {
  /** Full normalised name: docker.io/library/busybox:latest or …@sha256:… */
  name: string;
  /** Digest of the manifest (or index) the registry served. */
  digest: string;
  /** Image ID (config digest). */
  id: string;
  /** False when the name already pointed at this image. */
  changed: boolean;
}

const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

/** Counts bytes going through, for progress. */
function counter(onBytes: (n: number) => void): Transform {
  let n = 0;
  return new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _e, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
}

interface Resolved {
  client: RegistryClient;
  top: FetchedManifest;
  manifestBytes: Buffer;
  manifest: Manifest;
  mediaType: string;
}

async function resolve(ref: Reference, name: string, platform: Platform): Promise<Resolved> {
  const clients = pullClients(ref.registry);
  let lastErr: unknown;
  for (const client of clients) {
    try {
      return await resolveAt(client, ref, name, platform);
    } catch (err) {
      lastErr = err;
      // a mirror that fails is skipped; so is everything but a verified-bad answer
      if (!client.endpoint.mirror || (isTsrunError(err) && err.code === 'DIGEST_MISMATCH')) throw err;
    }
  }
  throw lastErr;
}

async function resolveAt(client: RegistryClient, ref: Reference, name: string, platform: Platform): Promise<Resolved> {
  const what = `manifest of ${name}`;
  const top = await client.getManifest(ref.repository, ref.digest ?? ref.tag!, what);
  if (ref.digest && top.digest !== ref.digest) {
    throw new TsrunError('DIGEST_MISMATCH', `${what}: the registry sent content with digest ${top.digest}`, { hint: 'the registry or a proxy is broken or hostile; nothing was stored' });
  }
  const parsed = parseManifest(top.bytes, top.mediaType, what);
  if (parsed.kind === 'manifest') return { client, top, manifestBytes: top.bytes, manifest: parsed.manifest, mediaType: parsed.mediaType };
  const desc = pickPlatform(parsed.index, platform);
  if (!desc) {
    const have = parsed.index.manifests.map((d) => (d.platform ? formatPlatform(d.platform) : '?')).join(', ');
    throw new TsrunError('NOT_FOUND', `${name}: no image for platform ${formatPlatform(platform)} (the index has ${have || 'none'})`, { hint: 'choose one with --platform' });
  }
  const childWhat = `manifest ${desc.digest} of ${name}`;
  const child = await client.getManifest(ref.repository, desc.digest, childWhat);
  if (child.digest !== desc.digest || child.bytes.length !== desc.size) {
    throw new TsrunError('DIGEST_MISMATCH', `${childWhat}: the registry sent content with digest ${child.digest} (${child.bytes.length} bytes)`, { hint: 'the registry or a proxy is broken or hostile; nothing was stored' });
  }
  const p2 = parseManifest(child.bytes, child.mediaType || desc.mediaType, childWhat);
  if (p2.kind !== 'manifest') throw new TsrunError('UNSUPPORTED', `${childWhat}: nested indexes are not supported`);
  return { client, top, manifestBytes: child.bytes, manifest: p2.manifest, mediaType: p2.mediaType };
}

async function fetchConfig(r: Resolved, ref: Reference, name: string): Promise<Buffer> {
  const d = r.manifest.config;
  const what = `config ${d.digest} of ${name}`;
  if (d.size > MAX_CONFIG_BYTES) throw new TsrunError('TOO_LARGE', `${what} is ${d.size} bytes, more than the limit of ${MAX_CONFIG_BYTES}`);
  const bytes = await r.client.getBlobBytes(ref.repository, d.digest, d.size, what);
  if (bytes.length !== d.size || sha256(bytes) !== d.digest) {
    throw new TsrunError('DIGEST_MISMATCH', `${what}: content digest ${sha256(bytes)} (${bytes.length} bytes) does not match the manifest`, {
      hint: 'the content is corrupt or was tampered with; nothing was stored',
    });
  }
  return bytes;
}

async function pullLayers(ctx: Ctx, r: Resolved, ref: Reference, name: string, diffIds: string[], added: Added, o: PullOptions): Promise<void> {
  const chains = chainIds(diffIds);
  const emit = o.onEvent ?? (() => {});
  const layers = r.manifest.layers;
  const todo: number[] = [];
  layers.forEach((desc, i) => {
    if (ctx.content.has(desc.digest) && ctx.layers.has(chains[i]!)) emit({ type: 'layer', id: shortId(desc.digest), status: 'Already exists' });
    else {
      todo.push(i);
      emit({ type: 'layer', id: shortId(desc.digest), status: 'Pulling fs layer' });
    }
  });
  await mapLimit(todo, o.concurrency ?? 3, async (i) => {
    const desc: Descriptor = layers[i]!;
    const id = shortId(desc.digest);
    const chainId = chains[i]!;
    const parent = i === 0 ? null : chains[i - 1]!;
    if (!ctx.content.has(desc.digest)) added.blobs.add(desc.digest);
    if (!ctx.layers.has(chainId)) added.layers.add(chainId);
    let input: Readable;
    if (ctx.content.has(desc.digest)) {
      input = ctx.content.open(desc.digest); // blob kept, layer dir gone (gc or crash): unpack again, no download
    } else {
      const what = `layer ${desc.digest} of ${name}`;
      const body = await r.client.getBlob(ref.repository, desc.digest, what);
      let last = 0;
      const count = counter((n) => {
        const now = Date.now();
        if (now - last > 100 || n === desc.size) {
          last = now;
          emit({ type: 'layer', id, status: 'Downloading', current: n, total: desc.size });
        }
      });
      body.on('error', (err) => count.destroy(err));
      input = body.pipe(count);
    }
    if (ctx.layers.has(chainId)) {
      // the unpacked layer is here (e.g. from import or another image), only its blob is missing
      await ctx.content.ingest(input, { digest: desc.digest, size: desc.size, what: `layer ${desc.digest} of ${name}` });
    } else {
      await ingestLayer(ctx, input, desc, diffIds[i]!, parent);
    }
    emit({ type: 'layer', id, status: 'Pull complete' });
  });
}

/** Pull one reference. Throws TsrunErrors whose message starts with the reference. */
export async function pullImage(ctx: Ctx, refText: string, o: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(refText);
  const name = formatReference(ref);
  const platform = o.platform ?? hostPlatform();
  const added = newAdded();
  ctx.content.sweepIngest();
  ctx.layers.sweep();
  try {
    return await withContentLock(ctx, async () => {
      o.onEvent?.({ type: 'start', ref, tagOrDigest: ref.digest ?? ref.tag! });
      const r = await resolve(ref, name, platform);
      const configBytes = await fetchConfig(r, ref, name);
      const config = checkConfig(configBytes, r.manifest.layers.length, `config ${r.manifest.config.digest} of ${name}`);
      await pullLayers(ctx, r, ref, name, config.rootfs.diff_ids, added, o);
      const tag = ref.digest ? undefined : taggedName(ref);
      const before = tag ? ctx.images.read().tags[tag] : undefined;
      for (const d of [r.manifest.config.digest, sha256(r.manifestBytes)]) if (!ctx.content.has(d)) added.blobs.add(d);
      const repoDigest = `${repoName(ref)}@${r.top.digest}`;
      const rec = storeImageBytes(ctx, r.manifestBytes, r.mediaType, configBytes, tag ? [tag] : [], [repoDigest]);
      if (!r.client.endpoint.mirror) {
        try {
          rememberSources(ctx, r.manifest.layers.map((l) => l.digest).concat(r.manifest.config.digest), repoName(ref));
        } catch {
          /* a cache; the pull itself succeeded */
        }
      }
      return { name, digest: r.top.digest, id: rec.id, changed: before !== rec.id };
    });
  } catch (err) {
    await rollback(ctx, added).catch(() => {});
    throw named(err, name);
  }
}

/** Prefix an error with the reference it concerns (unless it already names it). */
function named(err: unknown, name: string): unknown {
  if (!isTsrunError(err) || err.message.includes(name)) return err;
  return new TsrunError(err.code, `pulling ${name}: ${err.message}`, { hint: err.hint, cause: err.cause ?? err, exitCode: err.explicitExitCode });
}

/** `pull -a`: every tag of the repository. */
export async function pullAllTags(ctx: Ctx, refText: string, o: PullOptions = {}): Promise<PullResult[]> {
  const ref = parseReference(refText);
  const lastPart = refText.split('@')[0]!.split('/').pop() ?? '';
  if (ref.digest || lastPart.includes(':')) {
    throw new TsrunError('USAGE', `tag can't be used with --all-tags/-a`, { hint: `give just the repository, e.g. ${repoName(ref)}` });
  }
  const clients = pullClients(ref.registry);
  let tags: string[] | undefined;
  let lastErr: unknown;
  for (const c of clients) {
    try {
      tags = await c.listTags(ref.repository);
      break;
    } catch (err) {
      lastErr = err;
      if (!c.endpoint.mirror) throw named(err, repoName(ref));
    }
  }
  if (!tags) throw named(lastErr, repoName(ref));
  const out: PullResult[] = [];
  for (const t of tags.sort()) out.push(await pullImage(ctx, `${repoName(ref)}:${t}`, o));
  return out;
}

