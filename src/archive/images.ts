/**
 * Interpret a spooled archive as images: docker-archive (manifest.json, as
 * docker save / podman save write it, including moby 25's combined form that
 * also has an OCI layout) or oci-archive (oci-layout + index.json).
 * Everything is checked against everything: members' digests against the
 * names and descriptors that refer to them, sizes against descriptors,
 * layer tars against the config's diff_ids.
 */
import fs from 'node:fs';
import type { SpooledArchive, Member } from './spool.js';
import type { Descriptor, ImageConfig, Index, Manifest } from '../oci/types.js';
import { MT, isIndexMediaType, isManifestMediaType } from '../oci/mediatypes.js';
import { checkDigest } from '../oci/digest.js';
import { normaliseTag } from '../images/store.js';
import { TsrunError, invalidArchive } from '../util/errors.js';
import { detectCompression } from '../util/compress.js';
import { hostPlatform } from '../oci/types.js';

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

export interface ArchiveImage {
  manifest: Manifest;
  manifestBytes: Buffer;
  manifestMediaType: string;
  config: ImageConfig;
  configBytes: Buffer;
  /** Members holding each blob the image needs (config, layers, the manifest for OCI). */
  blobs: Member[];
  /** Members of the layers, aligned with manifest.layers. */
  layers: Member[];
  tags: string[];
}

const mismatch = (msg: string) => new TsrunError('DIGEST_MISMATCH', msg, { hint: 'the archive is corrupt or was tampered with; nothing was stored' });

/** A member named blobs/ALG/HEX (or HEX.json, HEX.tar) must hash to that name. */
function checkNamedDigest(m: Member): void {
  const blob = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(m.name) ?? /^([a-f0-9]{64})\.(?:json|tar)$/.exec(m.name);
  if (blob && m.digest !== `sha256:${blob[1]}`) throw mismatch(`archive member ${m.name} has digest ${m.digest}, not the one its name says`);
}

function parseConfig(bytes: Buffer, what: string): ImageConfig {
  let c: unknown;
  try {
    c = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalidArchive(`${what} is not valid JSON`);
  }
  const cfg = c as ImageConfig;
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw invalidArchive(`${what} is not a JSON object`);
  if (!cfg.rootfs || !Array.isArray(cfg.rootfs.diff_ids)) throw invalidArchive(`${what} has no rootfs.diff_ids`);
  cfg.rootfs.diff_ids.forEach((d, i) => checkDigest(d, `diff_id ${i} in ${what}`));
  return cfg;
}

function compressionOf(m: Member) {
  const fd = fs.openSync(m.tmp, 'r');
  try {
    const b = Buffer.alloc(4);
    return detectCompression(b.subarray(0, fs.readSync(fd, b, 0, 4, 0)));
  } finally {
    fs.closeSync(fd);
  }
}

function tagsFrom(names: unknown, what: string): string[] {
  if (names === undefined || names === null) return [];
  if (!Array.isArray(names)) throw invalidArchive(`${what}: RepoTags is not a list`);
  return names.map((n) => {
    if (typeof n !== 'string') throw invalidArchive(`${what}: RepoTags holds a non-string`);
    try {
      return normaliseTag(n);
    } catch {
      throw invalidArchive(`${what}: invalid tag ${JSON.stringify(n).slice(0, 100)}`);
    }
  });
}

interface DockerManifestEntry {
  Config?: unknown;
  RepoTags?: unknown;
  Layers?: unknown;
}

export function readDockerArchive(a: SpooledArchive, manifestJson: Member): ArchiveImage[] {
  const entries = a.readJson<DockerManifestEntry[]>(manifestJson, MAX_MANIFEST_BYTES, 'manifest');
  if (!Array.isArray(entries) || entries.length === 0) throw invalidArchive('manifest.json does not list any image');
  return entries.map((e, i) => {
    const what = `manifest.json entry ${i}`;
    if (!e || typeof e !== 'object') throw invalidArchive(`${what} is not an object`);
    const cfgMember = a.need(e.Config, what);
    checkNamedDigest(cfgMember);
    const configBytes = a.readBytes(cfgMember, MAX_CONFIG_BYTES, 'image config');
    const config = parseConfig(configBytes, `image config ${cfgMember.name}`);
    if (!Array.isArray(e.Layers)) throw invalidArchive(`${what}: Layers is not a list`);
    const diffIds = config.rootfs.diff_ids;
    if (e.Layers.length !== diffIds.length) throw invalidArchive(`${what} lists ${e.Layers.length} layers but its config has ${diffIds.length} diff_ids`);
    const layers = e.Layers.map((l: unknown) => a.need(l, what));
    const descs: Descriptor[] = layers.map((m, j) => {
      checkNamedDigest(m);
      if (m.digest === diffIds[j]) return { mediaType: MT.DOCKER_LAYER, digest: m.digest, size: m.size };
      // a compressed layer tar: its diff_id is checked while it is unpacked
      const c = compressionOf(m);
      if (c === 'none') throw mismatch(`layer ${m.name} has digest ${m.digest}, not the diff_id ${diffIds[j]} its config lists`);
      return { mediaType: c === 'gzip' ? MT.DOCKER_LAYER_GZIP : MT.OCI_LAYER_ZSTD, digest: m.digest, size: m.size };
    });
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MT.DOCKER_MANIFEST,
      config: { mediaType: MT.DOCKER_CONFIG, digest: cfgMember.digest, size: cfgMember.size },
      layers: descs,
    };
    return {
      manifest,
      manifestBytes: Buffer.from(JSON.stringify(manifest)),
      manifestMediaType: MT.DOCKER_MANIFEST,
      config,
      configBytes,
      blobs: [cfgMember, ...layers],
      layers,
      tags: tagsFrom(e.RepoTags, what),
    };
  });
}

/** The member holding the blob a descriptor names, checked against the descriptor. */
function blobFor(a: SpooledArchive, d: Descriptor, what: string): Member {
  if (!d || typeof d !== 'object') throw invalidArchive(`${what}: invalid descriptor`);
  const digest = checkDigest(d.digest, `digest of ${what}`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalidArchive(`${what}: invalid size ${JSON.stringify(d.size)}`);
  const m = a.need(`blobs/${digest.replace(':', '/')}`, what);
  if (m.digest !== digest) throw mismatch(`${what}: blob ${m.name} has digest ${m.digest}, not ${digest}`);
  if (m.size !== d.size) throw mismatch(`${what}: blob ${digest} is ${m.size} bytes, its descriptor says ${d.size}`);
  return m;
}

function nameFromAnnotations(ann: Record<string, string> | undefined, what: string): string[] {
  if (!ann) return [];
  const full = ann['io.containerd.image.name'] ?? ann['org.opencontainers.image.ref.name'];
  // a bare tag ("latest") names no repository: the image stays untagged, as podman does
  if (!full || !/[/:]/.test(full)) return [];
  try {
    return [normaliseTag(full)];
  } catch {
    throw invalidArchive(`${what}: invalid image name ${JSON.stringify(full).slice(0, 100)}`);
  }
}

function platformMatches(d: Descriptor): boolean {
  const host = hostPlatform();
  return !d.platform || (d.platform.os === host.os && d.platform.architecture === host.architecture);
}

export function readOciArchive(a: SpooledArchive): ArchiveImage[] {
  const layout = a.resolve('oci-layout');
  if (!layout) throw invalidArchive('the archive has neither manifest.json nor oci-layout', 'give a docker-archive or oci-archive made by `save`');
  const lv = a.readJson<{ imageLayoutVersion?: unknown }>(layout, 4096, 'oci-layout');
  if (lv?.imageLayoutVersion !== '1.0.0') throw new TsrunError('UNSUPPORTED', `unsupported OCI layout version ${JSON.stringify(lv?.imageLayoutVersion)}`);
  const index = a.readJson<Index>(a.need('index.json', 'oci-layout'), MAX_MANIFEST_BYTES, 'index');
  const out: ArchiveImage[] = [];
  const visit = (idx: Index, what: string, depth: number, inherited: string[]) => {
    if (depth > 4) throw invalidArchive('image indexes are nested too deeply');
    if (!idx || !Array.isArray(idx.manifests)) throw invalidArchive(`${what} has no manifests list`);
    const nested = depth > 0;
    for (const [i, d] of idx.manifests.entries()) {
      const dw = `${what} manifest ${i}`;
      const tags = [...inherited, ...nameFromAnnotations(d?.annotations, dw)];
      if (isIndexMediaType(d?.mediaType)) {
        const m = blobFor(a, d, dw);
        visit(a.readJson<Index>(m, MAX_MANIFEST_BYTES, 'index'), `index ${d.digest}`, depth + 1, tags);
        continue;
      }
      if (d?.mediaType !== undefined && !isManifestMediaType(d.mediaType)) continue; // attestations and the like
      if (nested && !platformMatches(d)) continue;
      const mm = blobFor(a, d, dw);
      const manifestBytes = a.readBytes(mm, MAX_MANIFEST_BYTES, 'manifest');
      let manifest: Manifest;
      try {
        manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
      } catch {
        throw invalidArchive(`manifest ${d.digest} is not valid JSON`);
      }
      if (!manifest || typeof manifest !== 'object' || !manifest.config || !Array.isArray(manifest.layers)) throw invalidArchive(`manifest ${d.digest} has no config or layers`);
      const cm = blobFor(a, manifest.config, `config of manifest ${d.digest}`);
      const configBytes = a.readBytes(cm, MAX_CONFIG_BYTES, 'image config');
      const config = parseConfig(configBytes, `image config ${cm.digest}`);
      if (config.rootfs.diff_ids.length !== manifest.layers.length) throw invalidArchive(`manifest ${d.digest} has ${manifest.layers.length} layers but its config lists ${config.rootfs.diff_ids.length} diff_ids`);
      const layers = manifest.layers.map((l, j) => blobFor(a, l, `layer ${j} of manifest ${d.digest}`));
      out.push({
        manifest,
        manifestBytes,
        manifestMediaType: manifest.mediaType ?? d.mediaType ?? MT.OCI_MANIFEST,
        config,
        configBytes,
        blobs: [mm, cm, ...layers],
        layers,
        tags: [...new Set(tags)],
      });
    }
  };
  visit(index, 'index.json', 0, []);
  if (!out.length) throw invalidArchive('the archive holds no image for this platform');
  return out;
}

/** Images in an archive: manifest.json wins (it has the tags), else the OCI layout. */
export function readArchiveImages(a: SpooledArchive): ArchiveImage[] {
  const mj = a.resolve('manifest.json');
  return mj ? readDockerArchive(a, mj) : readOciArchive(a);
}
