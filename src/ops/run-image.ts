/**
 * The image for `run` / `create`, pulled when the --pull policy says so:
 *   missing (default): use the local image, pull when there is none
 *   always:            pull (the registry decides what the tag means now)
 *   never:             local only; NOT_FOUND when absent
 * Pull output goes to `log`, which the CLI points at stderr (as docker does
 * for run, so the container's stdout stays clean): "Unable to find image …
 * locally", then the Digest/Status lines.
 */
import type { Ctx } from '../context.js';
import type { Image } from '../images/store.js';
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
): Promise<Image> {
  if (pullPolicy !== 'always') {
    const idx = ctx.images.read();
    const rec = ctx.images.tryResolve(ref, idx);
    if (rec) {
      const img = ctx.images.image(rec, idx);
      mark('image resolved');
      return img;
    }
  }
  if (pullPolicy === 'never') {
    throw new TsrunError('NOT_FOUND', `No such image: ${ref}`, { hint: 'pull, load or import it first, or run with --pull missing' });
  }
  // an image ID (or a prefix of one) cannot be pulled
  if (/^(sha256:)?[a-f0-9]{12,64}$/.test(ref)) {
    throw new TsrunError('NOT_FOUND', `No such image: ${ref}`, { hint: 'see `tsrun images`' });
  }
  if (pullPolicy === 'missing') log(`Unable to find image '${ref}' locally`);
  const { pullImage } = await import('./pull.js'); // registry code only when a pull happens
  const r = await pullImage(ctx, ref);
  const familiar = r.name.replace(/^docker\.io\/(library\/)?/, '');
  log(`Digest: ${r.digest}`);
  log(r.changed ? `Status: Downloaded newer image for ${familiar}` : `Status: Image is up to date for ${familiar}`);
  return ctx.images.image(ctx.images.resolve(r.id));
}
