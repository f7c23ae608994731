/**
 * `tsrun rmi`: untag, and delete an image once no tag is left. All arguments
 * are checked before anything changes; the decision and the removal happen
 * under the exclusive GC lock so no container can start using the image
 * in between. Blobs and layers nothing uses any more go with it (gc).
 */
import type { Ctx } from '../context.js';
import { noStore, withGcLock } from '../context.js';
import { collectGarbageLocked } from './gc.js';
import { listContainers } from '../containers/record.js';
import { listMembers, normaliseTag, untag, type ImageIndex } from '../images/store.js';
import { conflict } from '../util/errors.js';
import { shortId } from '../oci/digest.js';

export type RmiEvent = { untagged: string } | { deleted: string };

function isIdRef(ref: string, id: string): boolean {
  const m = /^(sha256:)?([a-f0-9]{1,64})$/.exec(ref);
  return !!m && id.startsWith(`sha256:${m[2]}`);
}

function usersOf(ctx: Ctx, id: string): string[] {
  return listContainers(ctx)
    .filter((c) => c.config.imageId === id)
    .map((c) => c.config.id);
}

/** Remove an image record, every tag pointing at it and every image index holding it. */
export function dropImage(idx: ImageIndex, id: string): void {
  delete idx.images[id];
  for (const [t, v] of Object.entries(idx.tags)) if (v === id) untag(idx, t);
  for (const [t, l] of Object.entries(idx.lists ?? {})) if (l.manifests.some((m) => m.id === id)) delete idx.lists![t];
}

export async function removeImages(ctx: Ctx, refs: string[], force: boolean): Promise<{ events: RmiEvent[]; reclaimed: number }> {
  return withGcLock(ctx, async () => {
    const events: RmiEvent[] = [];
    ctx.images.update((idx) => {
      // plan first: resolve and check every argument before changing anything
      const plan = refs.map((ref) => {
        const rec = ctx.images.resolve(ref, idx);
        const tags = ctx.images.tagsOf(idx, rec.id);
        const byId = isIdRef(ref, rec.id) && !tags.includes(safeTag(ref));
        if (byId && tags.length > 1 && !force) {
          throw conflict(`unable to delete ${shortId(rec.id)} (must be forced) - image is referenced in multiple repositories`, 'remove it by name, or use -f');
        }
        const users = usersOf(ctx, rec.id);
        const lastTag = byId || tags.length <= 1;
        if (lastTag && users.length && !force) {
          throw conflict(`unable to remove image ${ref}: image is being used by container ${shortId('sha256:' + users[0]!)}`, 'remove the container first, or use -f');
        }
        return { ref, rec, byId };
      });
      for (const { rec, byId, ref } of plan) {
        if (!idx.images[rec.id]) continue; // removed by an earlier argument
        const untagList = byId ? ctx.images.tagsOf(idx, rec.id) : [normaliseTag(ref)];
        // the other platforms' images of an index this name held go with it unless still named or listed
        const listed = untagList.flatMap((t) => idx.lists?.[t]?.manifests.map((m) => m.id) ?? []);
        for (const t of untagList) {
          if (idx.tags[t] !== rec.id) continue;
          untag(idx, t);
          events.push({ untagged: t });
        }
        const stillListed = listMembers(idx);
        for (const id of listed) {
          if (id === rec.id || !idx.images[id] || ctx.images.tagsOf(idx, id).length || stillListed.has(id) || usersOf(ctx, id).length) continue;
          dropImage(idx, id);
          events.push({ deleted: id });
        }
        if (ctx.images.tagsOf(idx, rec.id).length === 0 && !listMembers(idx).has(rec.id)) {
          dropImage(idx, rec.id);
          events.push({ deleted: rec.id });
        }
      }
    });
    const gc = collectGarbageLocked(ctx);
    return { events, reclaimed: gc.bytes };
  }, () => {
    // no store: the first name is no image (resolve's own error)
    for (const ref of refs) ctx.images.resolve(ref, ctx.images.read());
    throw noStore(ctx);
  });
}

function safeTag(ref: string): string {
  try {
    return normaliseTag(ref);
  } catch {
    return '';
  }
}
