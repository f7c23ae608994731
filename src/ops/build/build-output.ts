/**
 * The image a build ends with: the target stage's config (its run config, MAINTAINER as
 * author, --label on top, the build containers' fields dropped), `created` now or
 * --timestamp's, and a manifest in the chosen format: OCI (default) or docker schema2
 * (`--format docker`, as buildah's; the base image's layers keep their compression with
 * that family's media types). Recorded under the content lock, the tags last.
 */
import type { Ctx } from '../../context.js';
import { withContentLock } from '../../context.js';
import type { ImageConfig, Manifest } from '../../oci/types.js';
import { MT } from '../../oci/mediatypes.js';
import { sha256 } from '../../oci/digest.js';
import type { ImageRecord } from '../../images/store.js';
import { storeImage } from '../layers.js';
import { convertLayer } from '../commit-image.js';
import type { State } from './build-state.js';

export type OutputFormat = 'oci' | 'docker';

export interface FinalImageInput {
  state: State;
  author?: string;
  config: ImageConfig['config'];
  labels: Record<string, string>;
  tags: string[];
  format: OutputFormat;
  /** ISO 8601. */
  created: string;
  /** false: put the blobs only; the caller records the image (one platform of a multi-platform build). */
  record?: boolean;
}

export async function finalImage(ctx: Ctx, i: FinalImageInput): Promise<ImageRecord> {
  const s = i.state;
  const config: ImageConfig = structuredClone(s.config);
  delete config.container;
  delete config.container_config;
  config.created = i.created;
  if (i.author) config.author = i.author;
  else delete config.author;
  config.config = { ...i.config };
  if (Object.keys(i.labels).length) config.config.Labels = { ...(config.config.Labels ?? {}), ...i.labels };
  const configBytes = Buffer.from(JSON.stringify(config));
  const docker = i.format === 'docker';
  const mediaType = docker ? MT.DOCKER_MANIFEST : MT.OCI_MANIFEST;
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: docker ? MT.DOCKER_CONFIG : MT.OCI_CONFIG, digest: sha256(configBytes), size: configBytes.length },
    layers: s.layers.map((d) => convertLayer(d, i.format)),
  };
  if (i.record === false) {
    const m = ctx.content.putBytes(Buffer.from(JSON.stringify(manifest)));
    ctx.content.putBytes(configBytes, { digest: manifest.config.digest });
    return { id: manifest.config.digest, manifest: m.digest, mediaType, repoDigests: [], added: '' };
  }
  return withContentLock(ctx, async () => storeImage(ctx, { manifest, manifestMediaType: mediaType, config: configBytes, tags: i.tags }));
}
