/**
 * The image's layer dirs (overlay lowers, topmost first) as overlay merges
 * them, for questions about single paths: "what does the image have at
 * REL?" (diff's A or C, commit leaving out directories it did not change).
 *
 * A plain lstat(LOWER/REL) is wrong twice when a layer has a symlink or a
 * file where REL has a parent: the kernel follows the symlink (an image's
 * `a -> /` makes it stat a host path) and a lower layer's entry below that
 * non-directory, which overlay hides, would count. Here each parent is
 * checked to be a directory in that layer before anything below it is
 * looked at (layer dirs do not change, so the verdicts are cached per walk).
 */
import fs from 'node:fs';
import { hasCode } from '../util/errors.js';

export function isWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** A path in one layer: a directory; absent (a layer below may have it); or something that hides the layers below. */
type Parent = 'dir' | 'absent' | 'hides';

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

function lstatOrAbsent(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return undefined;
    throw err;
  }
}

export class LowerView {
  private readonly parents: Map<string, Parent>[];

  constructor(readonly lowers: readonly string[]) {
    this.parents = lowers.map(() => new Map());
  }

  /** The stat of REL (no leading slash) as the merged layers show it, or undefined when absent or whited out. */
  stat(rel: string): fs.Stats | undefined {
    const parent = parentOf(rel);
    for (let i = 0; i < this.lowers.length; i++) {
      const p = this.dirIn(i, parent);
      if (p === 'hides') return undefined;
      if (p === 'absent') continue;
      const st = lstatOrAbsent(this.lowers[i] + '/' + rel); // every parent is a real directory here
      if (!st) continue;
      return isWhiteout(st) ? undefined : st;
    }
    return undefined;
  }

  private dirIn(i: number, rel: string): Parent {
    if (rel === '') return 'dir';
    const cache = this.parents[i]!;
    let v = cache.get(rel);
    if (v !== undefined) return v;
    v = this.dirIn(i, parentOf(rel));
    if (v === 'dir') {
      const st = lstatOrAbsent(this.lowers[i] + '/' + rel);
      v = !st ? 'absent' : st.isDirectory() ? 'dir' : 'hides';
    }
    cache.set(rel, v);
    return v;
  }
}
