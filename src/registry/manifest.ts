/**
 * Checks of untrusted manifest, index and config JSON from registries.
 * Hand-written rather than a schema library: only the fields tsrun uses are
 * checked, and a few lines here keep ajv (≈1 MB) off the pull path.
 */
import { TsrunError } from '../util/errors.js';
import { isDigest } from '../oci/digest.js';
import { MT, isIndexMediaType, isManifestMediaType, layerCompression } from '../oci/mediatypes.js';
import type { Descriptor, ImageConfig, Index, Manifest, Platform } from '../oci/types.js';

const bad = (what: string, why: string) =>
  new TsrunError('INVALID_ARCHIVE', `${what}: ${why}`, { hint: 'the registry sent a malformed manifest; nothing was stored' });

export function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw bad(what, 'not valid JSON');
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkDescriptor(v: unknown, what: string): Descriptor {
  if (!isObj(v)) throw bad(what, 'descriptor is not an object');
  if (typeof v.mediaType !== 'string' || !v.mediaType) throw bad(what, 'descriptor without a mediaType');
  if (typeof v.digest !== 'string' || !isDigest(v.digest)) throw bad(what, `invalid digest ${JSON.stringify(v.digest)?.slice(0, 80)}`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw bad(what, `invalid size ${JSON.stringify(v.size)}`);
  if (v.platform !== undefined) {
    const p = v.platform;
    if (!isObj(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') throw bad(what, 'invalid platform');
  }
  return v as unknown as Descriptor;
}

export type Parsed = { kind: 'index'; index: Index; mediaType: string } | { kind: 'manifest'; manifest: Manifest; mediaType: string };

/** Parse a manifest or index; the media type comes from the JSON, else the Content-Type header. */
export function parseManifest(bytes: Buffer, contentType: string, what: string): Parsed {
  const v = parseJson(bytes, what);
  if (!isObj(v)) throw bad(what, 'not a JSON object');
  if (v.schemaVersion !== 2) {
    if (v.schemaVersion === 1) throw new TsrunError('UNSUPPORTED', `${what}: docker schema 1 manifests are not supported`, { hint: 'push the image again with a current tool' });
    throw bad(what, `unsupported schemaVersion ${JSON.stringify(v.schemaVersion)}`);
  }
  let mt = typeof v.mediaType === 'string' ? v.mediaType : contentType;
  if (!isIndexMediaType(mt) && !isManifestMediaType(mt)) {
    // OCI allows leaving mediaType out: decide by shape
    if (Array.isArray(v.manifests)) mt = MT.OCI_INDEX;
    else if (isObj(v.config) && Array.isArray(v.layers)) mt = MT.OCI_MANIFEST;
    else throw new TsrunError('UNSUPPORTED', `${what}: unsupported manifest media type ${JSON.stringify(mt)}`);
  }
  if (isIndexMediaType(mt)) {
    if (!Array.isArray(v.manifests)) throw bad(what, 'index without a manifests list');
    if (v.manifests.length > 1000) throw new TsrunError('TOO_LARGE', `${what}: index lists more than 1000 manifests`);
    v.manifests.forEach((d, i) => checkDescriptor(d, `${what}: manifests[${i}]`));
    return { kind: 'index', index: v as unknown as Index, mediaType: mt };
  }
  const config = checkDescriptor(v.config, `${what}: config`);
  if (config.mediaType !== MT.OCI_CONFIG && config.mediaType !== MT.DOCKER_CONFIG) {
    throw new TsrunError('UNSUPPORTED', `${what}: not a container image (config media type ${config.mediaType})`);
  }
  if (!Array.isArray(v.layers)) throw bad(what, 'manifest without a layers list');
  if (v.layers.length > 1000) throw new TsrunError('TOO_LARGE', `${what}: more than 1000 layers`);
  v.layers.forEach((d, i) => {
    const desc = checkDescriptor(d, `${what}: layers[${i}]`);
    if (layerCompression(desc.mediaType) === undefined) throw new TsrunError('UNSUPPORTED', `${what}: layer ${i} has unsupported media type ${desc.mediaType}`);
  });
  return { kind: 'manifest', manifest: v as unknown as Manifest, mediaType: mt };
}

/** Check the config fields pull uses: os, architecture and one diff_id per layer. */
export function checkConfig(bytes: Buffer, layerCount: number, what: string): ImageConfig {
  const v = parseJson(bytes, what);
  if (!isObj(v)) throw bad(what, 'not a JSON object');
  const rootfs = v.rootfs;
  if (!isObj(rootfs) || !Array.isArray(rootfs.diff_ids)) throw bad(what, 'no rootfs.diff_ids');
  for (const d of rootfs.diff_ids) if (typeof d !== 'string' || !isDigest(d)) throw bad(what, `invalid diff_id ${JSON.stringify(d)?.slice(0, 80)}`);
  if (rootfs.diff_ids.length !== layerCount) throw bad(what, `${rootfs.diff_ids.length} diff_ids for ${layerCount} layers`);
  if (typeof v.os !== 'string' || typeof v.architecture !== 'string') throw bad(what, 'no os/architecture');
  return v as unknown as ImageConfig;
}

// --platform values and their printing live with the other platform rules
export { parsePlatform, formatPlatform } from '../oci/platform.js';

/** Pick the index entry for a platform, as containerd's matcher does (variant optional; arm64 v8 = no variant). */
export function pickPlatform(index: Index, want: Platform): Descriptor | undefined {
  const norm = (p: Platform) => ({ os: p.os, arch: p.architecture, variant: p.architecture === 'arm64' && (!p.variant || p.variant === 'v8') ? '' : (p.variant ?? '') });
  const w = norm(want);
  const candidates = index.manifests.filter((d) => isManifestMediaType(d.mediaType) || d.mediaType === undefined);
  const exact = candidates.find((d) => d.platform && norm(d.platform).os === w.os && norm(d.platform).arch === w.arch && norm(d.platform).variant === w.variant);
  if (exact) return exact;
  if (!want.variant) return candidates.find((d) => d.platform && d.platform.os === w.os && d.platform.architecture === w.arch);
  return undefined;
}
