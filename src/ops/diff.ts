/**
 * `tsrun diff CONTAINER`: what the container changed, from its upper dir, as
 * docker shows it: A added, C changed (existing files modified, directories
 * whose contents changed), D deleted (whiteouts). An opaque directory (deleted
 * and made again) is C when the image had it, and its new contents are A.
 * The paths tsrun mounts into the container (/etc/hosts …) are left out, as in commit.
 */
import fs from 'node:fs';
import type { Ctx } from '../context.js';
import { findContainer } from '../containers/record.js';
import { walkTree } from '../diff/walk.js';
import { LowerView } from '../diff/lower-view.js';
import { excludedPaths, lowerDirs, upperDir } from './commit-layer.js';

export type ChangeKind = 'A' | 'C' | 'D';

export interface Change {
  kind: ChangeKind;
  /** Absolute path in the container. */
  path: string;
}

export function containerDiff(ctx: Ctx, ref: string): Change[] {
  const c = findContainer(ctx, ref);
  const upper = upperDir(c);
  if (!fs.existsSync(upper)) return [];
  const lowers = lowerDirs(ctx, c);
  const image = new LowerView(lowers);
  const out: Change[] = [];
  walkTree(upper, { exclude: excludedPaths(c), lowers }, (e) => {
    let kind: ChangeKind;
    if (e.kind === 'whiteout') kind = 'D';
    else if (e.underOpaque) kind = 'A';
    else kind = image.stat(e.rel) ? 'C' : 'A';
    out.push({ kind, path: '/' + e.rel });
  });
  // sorted by path as a whole (walk order puts ".wh." names where the whiteout's own name is not)
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
