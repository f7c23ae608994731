/**
 * Undo what a failed pull added: blobs and layers it created that no image
 * refers to. Runs under the exclusive GC lock, so no other command is
 * half-way through adding content (they hold the shared lock until their
 * image is recorded): anything another pull also needs is by then referenced
 * by its image and stays.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { withGcLock } from '../context.js';
import { inUse } from '../ops/gc.js';
import { removeTreeTolerant } from '../util/rmtree.js';

export interface Added {
  blobs: Set<string>;
  layers: Set<string>;
}

export function newAdded(): Added {
  return { blobs: new Set(), layers: new Set() };
}

export async function rollback(ctx: Ctx, added: Added): Promise<void> {
  removeOwnTemps(ctx);
  if (!added.blobs.size && !added.layers.size) return;
  await withGcLock(ctx, async () => {
    const ref = inUse(ctx); // images and containers
    for (const b of added.blobs) if (!ref.blobs.has(b)) ctx.content.delete(b);
    const doomed = new Set([...added.layers].filter((l) => !ref.chains.has(l)));
    if (doomed.size) {
      const keep = new Set(ctx.layers.list().filter((l) => !doomed.has(l)));
      ctx.layers.gc(keep);
      // the per-layer lock files `ensure` made hold no data; nobody holds them under the GC lock
      for (const l of doomed) fs.rmSync(path.join(ctx.layers.dir, '.locks', l.slice(l.indexOf(':') + 1)), { force: true });
    }
  });
}

/** Temp files of this process (a failed ingest or unpack that did not clean up after itself). */
function removeOwnTemps(ctx: Ctx): void {
  const mine = `${process.pid}-`;
  for (const dir of [path.join(ctx.content.dir, 'ingest'), path.join(ctx.layers.dir, '.tmp')]) {
    try {
      for (const n of fs.readdirSync(dir)) if (n.startsWith(mine)) removeTreeTolerant(path.join(dir, n));
    } catch {
      /* nothing to sweep */
    }
  }
}
