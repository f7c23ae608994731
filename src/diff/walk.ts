/**
 * walk: the entries of an overlay upper dir (or of a plain tree) in layer
 * order — names sorted by byte order, parents before children — classified
 * the way a layer needs them: whiteouts (char device 0/0), opaque dirs
 * (trusted.overlay.opaque=y), hardlinks to an earlier entry, and the xattrs to
 * keep (every trusted.overlay.* is dropped: it is overlay's bookkeeping).
 *
 * Directories that end up holding nothing but excluded entries, and that the
 * lower layers already have with the same owner and mode, are left out: they
 * are in the upper only because tsrun made a mount point in them (e.g. /etc
 * for /etc/hosts), which is not a change the user made.
 */
import fs from 'node:fs';
import { native } from '../native.js';
import { hasCode } from '../util/errors.js';

export type EntryKind = 'whiteout' | 'dir' | 'file' | 'link' | 'symlink' | 'char' | 'block' | 'fifo';

export interface WalkEntry {
  /** Relative path, no leading slash. */
  rel: string;
  abs: string;
  st: fs.Stats;
  kind: EntryKind;
  /** Directory with trusted.overlay.opaque=y (its lower contents are hidden). */
  opaque: boolean;
  /** Inside an opaque directory (so nothing below it exists in the lower layers). */
  underOpaque: boolean;
  /** xattrs to keep, name → value. */
  xattrs: Map<string, Buffer>;
  /** Hardlink: rel of the first entry of the same inode. Symlink: its target. */
  linkname?: string;
}

export interface WalkOptions {
  /** Relative paths (no leading slash) left out with everything below them. */
  exclude?: ReadonlySet<string>;
  /** 'overlay' (default): an upper dir with whiteouts and opaque dirs. 'plain': an ordinary tree. */
  mode?: 'overlay' | 'plain';
  /** The lower layer dirs, topmost first (for pruning untouched dirs and for diff's A/C). */
  lowers?: readonly string[];
}

const OPAQUE = 'trusted.overlay.opaque';
const OVERLAY_PREFIX = 'trusted.overlay.';

export function isWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** The stat of `rel` as the lower layers show it (topmost first), or undefined when absent or whited out. */
export function lowerStat(lowers: readonly string[], rel: string): fs.Stats | undefined {
  for (const lower of lowers) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(lower + '/' + rel);
    } catch (err) {
      if (hasCode(err, 'ENOENT')) continue;
      if (hasCode(err, 'ENOTDIR')) return undefined;
      throw err;
    }
    return isWhiteout(st) ? undefined : st;
  }
  return undefined;
}

function kindOf(st: fs.Stats, overlay: boolean): EntryKind | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return overlay && st.rdev === 0 ? 'whiteout' : 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined; // sockets: a layer cannot hold them (docker skips them too)
}

function readXattrs(abs: string): { xattrs: Map<string, Buffer>; opaque: boolean } {
  const nat = native();
  const xattrs = new Map<string, Buffer>();
  let opaque = false;
  let names: string[];
  try {
    names = nat.llistxattr(abs);
  } catch (err) {
    if (hasCode(err, 'ENOTSUP') || hasCode(err, 'EOPNOTSUPP')) return { xattrs, opaque };
    throw err;
  }
  for (const name of names) {
    if (name.startsWith(OVERLAY_PREFIX)) {
      if (name === OPAQUE) {
        const v = nat.lgetxattr(abs, name);
        opaque = !!v && v.length === 1 && v[0] === 0x79; // 'y'
      }
      continue;
    }
    const v = nat.lgetxattr(abs, name);
    if (v) xattrs.set(name, v);
  }
  return { xattrs, opaque };
}

interface Pending {
  entry: WalkEntry;
  emitted: boolean;
}

/**
 * Visit every entry of `root` in layer order. `visit` is called synchronously
 * for each entry that belongs in the layer.
 */
export function walkTree(root: string, opts: WalkOptions, visit: (e: WalkEntry) => void): void {
  const overlay = (opts.mode ?? 'overlay') === 'overlay';
  const exclude = opts.exclude ?? new Set<string>();
  const lowers = opts.lowers;
  const firstLink = new Map<string, string>();
  const pending: Pending[] = [];

  const emit = (e: WalkEntry) => {
    for (const p of pending) {
      if (!p.emitted) {
        p.emitted = true;
        visit(p.entry);
      }
    }
    visit(e);
  };

  const dirIsUntouched = (e: WalkEntry): boolean => {
    if (!lowers || e.opaque || e.underOpaque || e.xattrs.size) return false;
    const low = lowerStat(lowers, e.rel);
    return !!low && low.isDirectory() && low.mode === e.st.mode && low.uid === e.st.uid && low.gid === e.st.gid;
  };

  const walkDir = (relDir: string, absDir: string, underOpaque: boolean) => {
    const names = fs.readdirSync(absDir);
    const items: { name: string; key: string; st: fs.Stats; kind: EntryKind }[] = [];
    for (const name of names) {
      const st = fs.lstatSync(absDir + '/' + name);
      const kind = kindOf(st, overlay);
      if (!kind) continue;
      items.push({ name, key: kind === 'whiteout' ? '.wh.' + name : name, st, kind });
    }
    items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const it of items) {
      const rel = relDir === '' ? it.name : relDir + '/' + it.name;
      if (exclude.has(rel)) continue;
      const abs = absDir + '/' + it.name;
      const e: WalkEntry = { rel, abs, st: it.st, kind: it.kind, opaque: false, underOpaque, xattrs: new Map() };
      if (it.kind === 'whiteout') {
        emit(e);
        continue;
      }
      const x = readXattrs(abs);
      e.xattrs = x.xattrs;
      if (it.kind === 'dir') {
        e.opaque = overlay && x.opaque;
        const p: Pending = { entry: e, emitted: false };
        if (!lowers || e.opaque || underOpaque || !dirIsUntouched(e)) emit(e), (p.emitted = true);
        pending.push(p);
        walkDir(rel, abs, underOpaque || e.opaque);
        pending.pop();
        continue;
      }
      if (it.kind === 'symlink') e.linkname = fs.readlinkSync(abs);
      if (it.kind === 'file' && it.st.nlink > 1) {
        const key = `${it.st.dev}:${it.st.ino}`;
        const first = firstLink.get(key);
        if (first !== undefined) {
          e.kind = 'link';
          e.linkname = first;
        } else {
          firstLink.set(key, rel);
        }
      }
      emit(e);
    }
  };

  walkDir('', root, false);
}
