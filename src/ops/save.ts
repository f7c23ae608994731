/**
 * `tsrun save`: images → docker-archive (default) or oci-archive, to a file
 * (written to a temp file and renamed: atomic) or to a stream.
 * Holds the shared GC lock while reading so rmi/prune cannot pull blobs away.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Ctx } from '../context.js';
import { withContentLock } from '../context.js';
import { dockerArchive, ociArchive, type SaveItem } from '../archive/write.js';
import { normaliseTag } from '../images/store.js';
import { tempName, fsyncDir } from '../util/atomic.js';
import { syscallError, usageError, isTsrunError } from '../util/errors.js';

export type SaveFormat = 'docker-archive' | 'oci-archive';

export function checkFormat(f: string): SaveFormat {
  if (f === 'docker-archive' || f === 'oci-archive' || f === 'docker') return f === 'docker' ? 'docker-archive' : f;
  if (f === 'oci') return 'oci-archive';
  throw usageError(`unknown save format ${JSON.stringify(f)}`, 'use docker-archive or oci-archive');
}

/** Resolve the user's arguments: a name saves that name; an ID saves the image untagged (docker's rule). */
function resolveItems(ctx: Ctx, refs: string[]): SaveItem[] {
  const idx = ctx.images.read();
  const byId = new Map<string, SaveItem>();
  for (const ref of refs) {
    const rec = ctx.images.resolve(ref, idx);
    let item = byId.get(rec.id);
    if (!item) {
      item = { image: ctx.images.image(rec, idx), names: [] };
      byId.set(rec.id, item);
    }
    const isId = /^(sha256:)?[a-f0-9]{1,64}$/.test(ref) && rec.id.startsWith(ref.startsWith('sha256:') ? ref : `sha256:${ref}`);
    if (!isId) {
      const name = normaliseTag(ref.split('@')[0]!);
      if (idx.tags[name] === rec.id && !item.names.includes(name)) {
        item.names.push(name);
        const list = idx.lists?.[name];
        if (list) (item.lists ??= new Map()).set(name, { digest: list.digest, mediaType: list.mediaType, images: list.manifests.map((m) => ctx.images.image(ctx.images.resolve(m.id, idx), idx)) });
      }
    }
  }
  return [...byId.values()];
}

export async function saveImages(ctx: Ctx, refs: string[], format: SaveFormat, out: { file?: string; stream?: Writable }): Promise<void> {
  if (!refs.length) throw usageError('save needs at least one image');
  await withContentLock(ctx, async () => {
    const items = resolveItems(ctx, refs);
    const gen = format === 'oci-archive' ? ociArchive(ctx, items) : dockerArchive(ctx, items);
    const src = Readable.from(gen, { objectMode: false, highWaterMark: 1 << 20 });
    if (!out.file) {
      await pipeline(src, out.stream ?? process.stdout);
      return;
    }
    const target = path.resolve(out.file);
    const tmp = tempName(target);
    try {
      const ws = fs.createWriteStream(tmp, { flags: 'wx', highWaterMark: 1 << 20 });
      await pipeline(src, ws);
      const fd = fs.openSync(tmp, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(tmp, target);
      fsyncDir(path.dirname(target));
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      if (isTsrunError(err)) throw err;
      throw syscallError(`cannot write ${out.file}`, err);
    }
  });
}
