import type { Ctx } from '../context.js';
import { normaliseTag, setTag } from '../images/store.js';

/** `tsrun tag SOURCE TARGET`: point TARGET at SOURCE's image; a tag that pointed elsewhere moves. */
export function tagImage(ctx: Ctx, source: string, target: string): string {
  const name = normaliseTag(target);
  return ctx.images.update((idx) => {
    const rec = ctx.images.resolve(source, idx);
    // a name that holds an image index passes the index on (docker's containerd store tags the index)
    const list = ctx.images.listOf(source, idx);
    setTag(idx, name, rec.id);
    if (list) (idx.lists ??= {})[name] = { ...list, repoDigests: [] };
    return rec.id;
  });
}
