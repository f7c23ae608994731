/**
 * The image for `run` / `create`, pulled when the --pull policy says so:
 *   missing (default): use the local image, pull when there is none
 *   always:            pull (the registry decides what the tag means now)
 *   never:             local only; NOT_FOUND when absent
 * With a platform (run --platform, build --platform), a local image of another
 * platform counts as absent, as docker's.
 * Pull output goes to `log`, which the CLI points at stderr (as docker does
 * for run, so the container's stdout stays clean): "Unable to find image …
 * locally", then the Digest/Status lines.
 */
import type { Ctx } from '../context.js';
import type { Image } from '../images/store.js';
import type { Platform } from '../oci/types.js';
import { TsrunError } from '../util/errors.js';
import { mark } from '../util/trace.js';

export type PullPolicy = 'missing' | 'always' | 'never';

export function parsePullPolicy(v: string | undefined): PullPolicy {
  const p = (v ?? 'missing').toLowerCase();
  if (p === 'missing' || p === 'always' || p === 'never') return p;
  throw new TsrunError('USAGE', `invalid --pull value ${JSON.stringify(v)}`, { hint: 'use missing, always or never' });
}

export async function resolveImageForRun(
  ctx: Ctx,
  ref: string,
  pullPolicy: PullPolicy = 'missing',
  log: (line: string) => void = () => {},
  platform?: Platform,
): Promise<Image> {
  let mismatch: string | undefined;
  if (pullPolicy !== 'always') {
    const idx = ctx.images.read();
    const rec = ctx.images.tryResolve(ref, idx);
    if (rec) {
      const img = ctx.images.image(rec, idx);
      mark('image resolved');
      if (!platform) return img;
      // docker: a local image of another platform than --platform asks for counts as missing
      const { platformMatches, imagePlatform, formatPlatform } = await import('../oci/platform.js');
      if (platformMatches(imagePlatform(img.config), platform)) return img;
      // a name that holds an image index (a multi-platform build): its entry for that platform
      const list = ctx.images.listOf(ref, idx);
      const member = list?.manifests.find((m) => platformMatches(m.platform, platform) && idx.images[m.id]);
      if (member) return ctx.images.image(idx.images[member.id]!, idx);
      mismatch = `image with reference ${ref} was found but does not match the specified platform: wanted ${formatPlatform(platform)}, actual: ${formatPlatform(imagePlatform(img.config))}`;
    }
  }
  if (pullPolicy === 'never') {
    if (mismatch) throw new TsrunError('NOT_FOUND', mismatch, { hint: 'pull that platform (tsrun pull --platform …), or run with --pull missing' });
    throw new TsrunError('NOT_FOUND', `No such image: ${ref}`, { hint: 'pull, load or import it first, or run with --pull missing' });
  }
  // an image ID (or a prefix of one) cannot be pulled
  if (/^(sha256:)?[a-f0-9]{12,64}$/.test(ref)) {
    if (mismatch) throw new TsrunError('NOT_FOUND', mismatch, { hint: 'use an image of that platform' });
    throw new TsrunError('NOT_FOUND', `No such image: ${ref}`, { hint: 'see `tsrun images`' });
  }
  if (mismatch) log(mismatch);
  else if (pullPolicy === 'missing') log(`Unable to find image '${ref}' locally`);
  const { pullImage } = await import('./pull.js'); // registry code only when a pull happens
  let r: Awaited<ReturnType<typeof pullImage>>;
  try {
    r = await pullImage(ctx, ref, platform ? { platform } : {});
  } catch (err) {
    // offline: say first that the store has the image, for another platform
    if (mismatch && err instanceof TsrunError) throw new TsrunError(err.code, `${mismatch}; pulling it failed: ${err.message}`, { hint: err.hint, cause: err });
    throw err;
  }
  const familiar = r.name.replace(/^docker\.io\/(library\/)?/, '');
  log(`Digest: ${r.digest}`);
  log(r.changed ? `Status: Downloaded newer image for ${familiar}` : `Status: Image is up to date for ${familiar}`);
  return ctx.images.image(ctx.images.resolve(r.id));
}
