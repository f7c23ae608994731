/**
 * `build --platform A,B`: the Dockerfile built once per platform (one after another: each
 * build's RUN steps of another architecture run emulated), then an image index naming
 * the images, recorded under the tags in one store change, as `docker buildx build
 * --platform A,B` and `podman build --platform A,B --manifest` make one. Nothing is
 * recorded until every platform built: a failure leaves only the build cache.
 * The progress of each platform is shown with its vertices numbered on from the last
 * one's and the platform in each step's brackets (`#12 [linux/arm64 2/3] RUN …`).
 */
import type { Ctx } from '../../context.js';
import { withContentLock } from '../../context.js';
import { hostPlatform, type Platform } from '../../oci/types.js';
import { MT } from '../../oci/mediatypes.js';
import { formatPlatform, platformMatches } from '../../oci/platform.js';
import { normaliseTag, type ImageRecord } from '../../images/store.js';
import { TsrunError } from '../../util/errors.js';
import { buildImage, type BuildOptions } from './executor.js';

export async function buildPlatforms(ctx: Ctx, o: BuildOptions, platforms: Platform[]): Promise<{ id: string; tags: string[] }> {
  const tags = o.tags.map(normaliseTag);
  let offset = 0;
  const built: { record: ImageRecord; platform: Platform }[] = [];
  for (const platform of platforms) {
    const shown = formatPlatform(platform);
    let last = offset;
    const log = (line: string) => {
      const m = /^#(\d+)( \[)?/.exec(line);
      if (!m) return o.log(line);
      const n = Number(m[1]) + offset;
      last = Math.max(last, n);
      o.log(`#${n}${m[2] ? ` [${shown} ` : ''}${line.slice(m[0].length)}`);
    };
    const r = await buildImage(ctx, { ...o, platform, tags: [], record: false, log });
    offset = last;
    built.push({ record: r.record, platform });
  }
  const docker = o.format === 'docker';
  const mediaType = docker ? MT.DOCKER_MANIFEST_LIST : MT.OCI_INDEX;
  const v = offset + 1;
  o.log(`#${v} exporting manifest list`);
  const digest = await withContentLock(ctx, async () => {
    // the images' blobs were written unrecorded: a prune running meanwhile may have taken them
    for (const b of built) {
      if (!ctx.content.has(b.record.manifest) || !ctx.content.has(b.record.id)) {
        throw new TsrunError('BUILD', `the ${formatPlatform(b.platform)} image's blobs were removed while the build ran (a prune?)`, { hint: 'build again: the steps are cached' });
      }
    }
    const index = {
      schemaVersion: 2,
      mediaType,
      manifests: built.map((b) => ({ mediaType: b.record.mediaType, digest: b.record.manifest, size: ctx.content.size(b.record.manifest)!, platform: b.platform })),
    };
    const d = ctx.content.putBytes(Buffer.from(JSON.stringify(index))).digest;
    ctx.images.addList(
      built.map((b) => ({ id: b.record.id, manifest: b.record.manifest, mediaType: b.record.mediaType })),
      { digest: d, mediaType, manifests: built.map((b) => ({ id: b.record.id, platform: b.platform })) },
      tags,
      hostPlatform(),
      platformMatches,
    );
    return d;
  });
  o.log(`#${v} writing manifest list ${digest} done`);
  for (const t of tags) o.log(`#${v} naming to ${t} done`);
  return { id: digest, tags };
}
