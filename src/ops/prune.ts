/**
 * `tsrun image prune`: remove dangling (untagged) images, or with `all`
 * every image no container uses; then collect garbage.
 */
import type { Ctx } from '../context.js';
import { withGcLock } from '../context.js';
import { collectGarbageLocked } from './gc.js';
import { dropImage } from './rmi.js';
import { listContainers } from '../containers/record.js';
import { listMembers } from '../images/store.js';

/** `keep(id)`: an image the caller's filters spare (system prune's until=/label=). */
export async function pruneImages(ctx: Ctx, all: boolean, keep?: (id: string) => boolean): Promise<{ deleted: string[]; reclaimed: number }> {
  return withGcLock(ctx, async () => {
    const used = new Set(listContainers(ctx).map((c) => c.config.imageId));
    const deleted: string[] = [];
    ctx.images.update((idx) => {
      // an untagged image an index holds (another platform of a multi-platform image) is not dangling
      const listed = listMembers(idx);
      for (const id of Object.keys(idx.images)) {
        if (used.has(id) || keep?.(id)) continue;
        if (!all && (ctx.images.tagsOf(idx, id).length || listed.has(id))) continue;
        dropImage(idx, id);
        deleted.push(id);
      }
    });
    const gc = collectGarbageLocked(ctx);
    return { deleted, reclaimed: gc.bytes };
  }, () => ({ deleted: [], reclaimed: 0 }));
}
