/**
 * Hardlinks to a file of a lower layer. containerd applies a layer onto the
 * mounted overlay of the layers below, so `link(lower file, new name)` makes
 * overlayfs copy the file up into the new layer first, and both names share
 * the copied inode. tsrun unpacks each layer into its own directory, so it
 * does the same by hand, once the whole layer has been read (the layers below
 * may still be unpacking during a pull): the target is found in the lower
 * layers the way overlayfs finds it (topmost first; a whiteout hides it; an
 * opaque directory hides everything below it), copied up with its owner,
 * mode, times and xattrs (and its missing parent directories with theirs),
 * and linked.
 *
 * The lower layers are tsrun's own unpacked directories, but their content
 * came from images: every component is checked with lstat, and a symlink on
 * the way to the target is refused, never followed.
 */
import fs from 'node:fs';
import { native } from '../native.js';
import { hasCode, unsafePath, invalidArchive } from '../util/errors.js';
import type { TarEntry } from './tarreader.js';
import { B, q, badLayer, depth, lexists, parentOf, OVERLAY_OPAQUE as OPAQUE } from './apply-names.js';

/** What of apply.ts's Applier this needs: what the layer holds so far, and how it creates things. */
export interface LayerState {
  readonly root: string;
  readonly mode: 'overlay' | 'apply';
  readonly seen: Set<string>;
  readonly regular: Map<string, unknown>;
  readonly special: Set<string>;
  readonly opaque: Set<string>;
  readonly dirEntries: Set<string>;
  readonly dirs: Set<string>;
  readonly dirTimes: { abs: string; depth: number; atime: number; mtime: number }[];
  abs(rel: string): string;
  tryCreate(create: () => void, abs: string, wantDir: boolean): boolean;
}

/** The hardlinks of a layer to files of the layers below: recorded while reading, made at the end. */
export class LowerLinks {
  private readonly links: { name: string; rel: string; target: string }[] = [];
  /** Names of those hardlinks → their target below (a hardlink to one of them links the same file). */
  private readonly alias = new Map<string, string>();

  constructor(private readonly layer: LayerState) {}

  pending(): boolean {
    return this.links.length > 0;
  }

  /** True when `rel` is one of these hardlinks (not on disk yet: nothing may go under it). */
  has(rel: string): boolean {
    return this.alias.has(rel);
  }

  /**
   * A hardlink whose target is not in this layer: a file of the layers below,
   * unless this layer hides or replaced it. In 'apply' mode those layers are
   * in the tree already; otherwise the target is copied up at the end.
   */
  add(e: TarEntry, rel: string, target: string): null {
    const L = this.layer;
    const below = this.alias.get(target);
    if (below !== undefined) {
      this.alias.set(rel, below);
      this.links.push({ name: e.name, rel, target: below });
      return null;
    }
    const notFound = () => badLayer(`hardlink ${q(e.name)} points to ${q(e.linkname)}, which is neither an earlier file of the layer nor a file of the layers below`);
    if (target === '' || L.seen.has(target) || L.opaque.has('')) throw notFound(); // the root, a directory, or whited out by this layer
    for (let p = parentOf(target); p !== ''; p = parentOf(p)) {
      // a parent that this layer made a file, whited out or made opaque hides the lower file
      if (L.regular.has(p) || L.special.has(p) || L.opaque.has(p) || (L.seen.has(p) && !L.dirEntries.has(p))) throw notFound();
    }
    L.seen.add(target); // the copy-up puts it in this layer: no later entry may take the name
    this.alias.set(rel, target);
    this.links.push({ name: e.name, rel, target });
    return null;
  }

  /** Make them: copy each target up (with its missing parents), then link. `lowerDirs`: topmost first. */
  make(lowerDirs: readonly string[]): void {
    const L = this.layer;
    const lowers = L.mode === 'apply' ? [L.root] : lowerDirs.map((d) => Buffer.from(d).toString('latin1'));
    for (const l of this.links) {
      const hit = findInLowers(lowers, l.target, l.name);
      if (!hit || hit.st.isDirectory()) {
        throw badLayer(`hardlink ${q(l.name)} points to ${q(l.target)}, which is neither an earlier file of the layer nor a file of the layers below`);
      }
      if (L.mode === 'overlay') {
        for (const p of hit.parents) {
          if (L.dirs.has(p.rel)) continue;
          const abs = L.abs(p.rel);
          if (!lexists(abs)) {
            fs.mkdirSync(B(abs), 0o700);
            copyMeta(hit.lower + '/' + p.rel, abs, p.st);
            L.dirTimes.push({ abs, depth: depth(p.rel), atime: p.st.atimeMs / 1000, mtime: p.st.mtimeMs / 1000 });
          }
          L.dirs.add(p.rel);
        }
        if (!lexists(L.abs(l.target))) copyUp(hit, l.target, L.abs(l.target)); // once per target
      }
      L.tryCreate(() => fs.linkSync(B(L.abs(l.target)), B(L.abs(l.rel))), L.abs(l.rel), false);
    }
  }
}

export interface LowerHit {
  /** The lower layer dir (a byte string) that holds the target. */
  lower: string;
  st: fs.Stats;
  /** Each parent directory of the target, nearest the root first, with the stat the overlay shows for it. */
  parents: { rel: string; st: fs.Stats }[];
}

function isWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(abs: string): boolean {
  try {
    const v = native().lgetxattr(B(abs), OPAQUE);
    return !!v && v.length === 1 && v[0] === 0x79;
  } catch {
    return false;
  }
}

function lstatOrUndefined(abs: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(B(abs));
  } catch (err) {
    if (hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR')) return undefined;
    throw err;
  }
}

/**
 * Find `rel` (a cleaned byte-string path) in `lowers` (byte strings, topmost
 * first) as overlayfs would show it. Undefined when absent or whited out.
 * Throws UNSAFE_PATH when a parent on the way is a symlink.
 */
export function findInLowers(lowers: readonly string[], rel: string, linkName: string): LowerHit | undefined {
  const parts = rel.split('/');
  const parents: { rel: string; st: fs.Stats }[] = [];
  // walk the path one component at a time through the merged view
  let visible = lowers.slice(); // the lowers that can still show the current directory
  let cur = '';
  for (let i = 0; i < parts.length; i++) {
    cur = cur === '' ? parts[i]! : cur + '/' + parts[i]!;
    const last = i === parts.length - 1;
    let found: { lower: string; st: fs.Stats } | undefined;
    const next: string[] = [];
    for (const lower of visible) {
      const st = lstatOrUndefined(lower + '/' + cur);
      if (!st) continue;
      if (isWhiteout(st)) break; // hidden here and in every layer below
      if (!found) found = { lower, st };
      if (last) break;
      if (!st.isDirectory()) {
        if (found.lower === lower && st.isSymbolicLink()) {
          throw unsafePath(`hardlink ${q(linkName)} points through a symlink of a lower layer (${q(cur)})`);
        }
        break; // a non-directory hides what the layers below have here
      }
      next.push(lower);
      if (isOpaque(lower + '/' + cur)) break; // nothing below this layer shows through
    }
    if (!found) return undefined;
    if (last) return { lower: found.lower, st: found.st, parents };
    if (!found.st.isDirectory()) return undefined;
    parents.push({ rel: cur, st: found.st });
    visible = next;
  }
  return undefined;
}

/** Copy a lower layer's non-directory to `dest` (a byte string) with its metadata, as overlayfs copy-up does. */
export function copyUp(hit: LowerHit, rel: string, dest: string): void {
  const src = hit.lower + '/' + rel;
  const { st } = hit;
  if (st.isFile()) {
    fs.copyFileSync(B(src), B(dest), fs.constants.COPYFILE_EXCL);
  } else if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(B(src), { encoding: 'buffer' }), B(dest));
  } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
    native().mknod(B(dest), st.mode, Math.floor(st.rdev / 256) & 0xfff, (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00));
  } else {
    throw invalidArchive(`hardlink target ${q(rel)} in a lower layer is not a file`, 'the layer is malformed');
  }
  copyMeta(src, dest, st);
}

/** Owner, mode, xattrs (not overlay's) and times of `src` onto `dest`. */
export function copyMeta(src: string, dest: string, st: fs.Stats): void {
  fs.lchownSync(B(dest), st.uid, st.gid);
  if (!st.isSymbolicLink()) fs.chmodSync(B(dest), st.mode & 0o7777);
  const nat = native();
  let names: string[] = [];
  try {
    names = nat.llistxattr(B(src));
  } catch {
    /* no xattrs here */
  }
  for (const name of names) {
    if (name.startsWith('trusted.overlay.')) continue;
    const v = nat.lgetxattr(B(src), name);
    if (v) nat.lsetxattr(B(dest), name, v, 0);
  }
  fs.lutimesSync(B(dest), st.atime, st.mtime);
}
