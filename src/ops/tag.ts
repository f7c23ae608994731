import type { Ctx } from '../context.js';
import { normaliseTag } from '../images/store.js';

/** `tsrun tag SOURCE TARGET`: point TARGET at SOURCE's image; a tag that pointed elsewhere moves. */
export function tagImage(ctx: Ctx, source: string, target: string): string {
  const name = normaliseTag(target);
  return ctx.images.update((idx) => {
    const rec = ctx.images.resolve(source, idx);
    idx.tags[name] = rec.id;
    return rec.id;
  });
}
