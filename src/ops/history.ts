/**
 * `tsrun history`: an image's history entries, newest first, each with the
 * size of the layer it made. The IMAGE column shows an ID only where a local
 * image is exactly the image up to that row (docker's rule: the top row is
 * the image itself; a lower row is a local image whose diff_ids are the
 * prefix so far and whose history is that long), otherwise <missing>.
 */
import type { Ctx } from '../context.js';
import { chainIds } from '../oci/digest.js';
import type { ImageConfig } from '../oci/types.js';

export interface HistoryRow {
  /** Image ID or '<missing>'. */
  id: string;
  created?: string;
  createdBy: string;
  size: number;
  comment: string;
  emptyLayer: boolean;
}

export function imageHistory(ctx: Ctx, ref: string): HistoryRow[] {
  const idx = ctx.images.read();
  const rec = ctx.images.resolve(ref, idx);
  const config = ctx.content.readJson<ImageConfig>(rec.id, 8 * 1024 * 1024);
  const diffIds = config.rootfs?.diff_ids ?? [];
  const chains = chainIds(diffIds);
  // history entries missing entirely (some tools write none): one row per layer
  const history = config.history?.length ? config.history : diffIds.map(() => ({ created: config.created, created_by: '', comment: '' }));
  const others: { id: string; diffIds: string[]; historyLen: number }[] = [];
  for (const r of Object.values(idx.images)) {
    if (r.id === rec.id) continue;
    try {
      const c = ctx.content.readJson<ImageConfig>(r.id, 8 * 1024 * 1024);
      others.push({ id: r.id, diffIds: c.rootfs?.diff_ids ?? [], historyLen: c.history?.length ?? 0 });
    } catch {
      /* damaged record: cannot be a parent */
    }
  }
  const rows: HistoryRow[] = [];
  let layer = 0;
  for (let i = 0; i < history.length; i++) {
    const h = history[i]!;
    const empty = !!(h as { empty_layer?: boolean }).empty_layer;
    let size = 0;
    if (!empty) {
      const chain = chains[layer];
      if (chain) {
        try {
          size = ctx.layers.info(chain).size;
        } catch {
          /* not unpacked */
        }
      }
      layer++;
    }
    let id = '<missing>';
    if (i === history.length - 1) id = rec.id;
    else {
      const prefix = diffIds.slice(0, layer);
      const parent = others.find((o) => o.historyLen === i + 1 && o.diffIds.length === prefix.length && o.diffIds.every((d, j) => d === prefix[j]));
      if (parent) id = parent.id;
    }
    rows.push({ id, created: h.created, createdBy: h.created_by ?? '', size, comment: h.comment ?? '', emptyLayer: empty });
  }
  return rows.reverse();
}
