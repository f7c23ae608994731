/**
 * The pure half of commit: the new image config and manifest from the parent
 * image, the new layer (if any) and the user's options. No I/O, so the same
 * inputs always give the same bytes (what makes --timestamp reproducible).
 */
import type { Descriptor, HistoryEntry, ImageConfig, ImageRunConfig, Manifest } from '../oci/types.js';
import { MT, layerCompression, layerMediaType } from '../oci/mediatypes.js';

export type ManifestFormat = 'oci' | 'docker';

export interface NewLayer {
  diffId: string;
  /** Size of the (uncompressed) tar blob; its digest is the diff_id. */
  size: number;
}

export interface CommitImageInput {
  parentConfig: ImageConfig;
  parentManifest: Manifest;
  /** The parent's run config with --change applied. */
  runConfig: ImageRunConfig;
  /** undefined: the container changed nothing, history gets an empty_layer entry. */
  layer: NewLayer | undefined;
  squash: boolean;
  format: ManifestFormat;
  /** ISO 8601 time for config.created and the history entry. */
  created: string;
  /** The container's command line, docker style (Path + Args joined by spaces). */
  createdBy: string;
  author?: string;
  message?: string;
}

export interface CommitImage {
  config: Buffer;
  /** The manifest without its config descriptor filled in (needs the config digest). */
  manifest: (configDigest: string) => Manifest;
  manifestMediaType: string;
}

/** Convert a parent's layer descriptor to the media type family of `format` (compression kept). */
export function convertLayer(d: Descriptor, format: ManifestFormat): Descriptor {
  const c = layerCompression(d.mediaType);
  if (c === undefined) return d; // foreign/non-distributable types stay as they are
  return { ...d, mediaType: layerMediaType(format, c) };
}

export function buildCommitImage(i: CommitImageInput): CommitImage {
  const parent = i.parentConfig;
  const config: ImageConfig = structuredClone(parent);
  // fields that describe the parent's build container, not this image
  delete config.container;
  delete config.container_config;
  delete config.author;
  config.created = i.created;
  if (i.author) config.author = i.author;
  config.config = i.runConfig;

  const parentIds = parent.rootfs?.diff_ids ?? [];
  const history: HistoryEntry[] = (parent.history ?? []).map((h) => (i.squash ? { ...h, empty_layer: true } : { ...h }));
  const entry: HistoryEntry = { created: i.created, created_by: i.createdBy };
  if (i.author) entry.author = i.author;
  if (i.message) entry.comment = i.message;
  if (!i.layer) entry.empty_layer = true;
  history.push(entry);
  config.history = history;
  config.rootfs = { type: 'layers', diff_ids: i.squash ? (i.layer ? [i.layer.diffId] : []) : i.layer ? [...parentIds, i.layer.diffId] : [...parentIds] };

  const layers: Descriptor[] = i.squash ? [] : i.parentManifest.layers.map((d) => convertLayer(d, i.format));
  if (i.layer) layers.push({ mediaType: layerMediaType(i.format, 'none'), digest: i.layer.diffId, size: i.layer.size });
  const manifestMediaType = i.format === 'docker' ? MT.DOCKER_MANIFEST : MT.OCI_MANIFEST;
  const configMediaType = i.format === 'docker' ? MT.DOCKER_CONFIG : MT.OCI_CONFIG;
  const configBytes = Buffer.from(JSON.stringify(config));
  return {
    config: configBytes,
    manifestMediaType,
    manifest: (digest) => ({
      schemaVersion: 2,
      mediaType: manifestMediaType,
      config: { mediaType: configMediaType, digest, size: configBytes.length },
      layers,
    }),
  };
}
