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
import { hasCode, TsrunError } from '../util/errors.js';
import { ConfinedDir, ChangedError } from '../util/confined-dir.js';
import { LowerView, isWhiteout } from './lower-view.js';

export type EntryKind = 'whiteout' | 'dir' | 'file' | 'link' | 'symlink' | 'char' | 'block' | 'fifo';

export interface WalkEntry {
  /** Relative path, no leading slash. */
  rel: string;
  /**
   * A path to the entry that the kernel resolves through the walker's open
   * directory fds, never by names from the root (util/confined-dir.ts): for
   * l* calls and xattrs, valid only while visit() runs.
   */
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
  /** A regular file (or hardlink) open for reading, the one `st` describes (WalkOptions.openFiles); closed after visit(). */
  fd?: number;
}

export interface WalkOptions {
  /** Relative paths (no leading slash) left out with everything below them. */
  exclude?: ReadonlySet<string>;
  /** 'overlay' (default): an upper dir with whiteouts and opaque dirs. 'plain': an ordinary tree. */
  mode?: 'overlay' | 'plain';
  /** The lower layer dirs, topmost first (for pruning untouched dirs and for diff's A/C). */
  lowers?: readonly string[];
  /** Open each regular file for the visitor (WalkEntry.fd): a name is never opened again by path. */
  openFiles?: boolean;
  /**
   * Nothing changes the tree during the walk (a stopped or frozen container) or it is mounted
   * nodev: regular files are opened in one step (ConfinedDir.openFile's `direct`).
   */
  directOpen?: boolean;
}

const OPAQUE = 'trusted.overlay.opaque';
const OVERLAY_PREFIX = 'trusted.overlay.';

export { isWhiteout, kindOf };

/** The stat of `rel` as the lower layers show it (topmost first), or undefined when absent or whited out (lower-view.ts). */
export function lowerStat(lowers: readonly string[], rel: string): fs.Stats | undefined {
  return new LowerView(lowers).stat(rel);
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

function readXattrs(p: string): { xattrs: Map<string, Buffer>; opaque: boolean } {
  const nat = native();
  const xattrs = new Map<string, Buffer>();
  let opaque = false;
  let names: string[];
  try {
    names = nat.llistxattr(p);
  } catch (err) {
    // ENOENT: removed since the listing (a running container)
    if (hasCode(err, 'ENOTSUP') || hasCode(err, 'EOPNOTSUPP') || hasCode(err, 'ENOENT')) return { xattrs, opaque };
    throw err;
  }
  for (const name of names) {
    if (name.startsWith(OVERLAY_PREFIX)) {
      if (name === OPAQUE) {
        const v = nat.lgetxattr(p, name);
        opaque = !!v && v.length === 1 && v[0] === 0x79; // 'y'
      }
      continue;
    }
    const v = nat.lgetxattr(p, name);
    if (v) xattrs.set(name, v);
  }
  return { xattrs, opaque };
}

/** One consistent reading of a name: its stat, and what that stat describes, opened or read. */
export interface Settled {
  st: fs.Stats;
  kind: EntryKind;
  dir?: ConfinedDir;
  fd?: number;
  linkname?: string;
}

/** How often a name that keeps changing kind under the walk is looked at again before giving up. */
const MAX_TRIES = 8;

/** lstat of a name in dir, or undefined when it is gone (a live tree changes under the walk). */
export function lstatOrGone(dir: ConfinedDir, name: string): fs.Stats | undefined {
  try {
    return dir.lstat(name);
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/**
 * Read NAME of `dir` as one thing, even while a running container swaps it
 * (a directory for a symlink, a file for a FIFO): a directory is opened
 * (O_NOFOLLOW) and described by the fstat of that fd, a file opened the same
 * way when asked, a symlink read. When the open finds something else than the
 * stat said, it is looked at again. Undefined: gone, or a socket. (Also cp's
 * batched copy, ops/cp/copy-tree.ts, for what is not a regular file.)
 */
export function settle(
  dir: ConfinedDir,
  name: string,
  rel: string,
  guess: { kind: EntryKind; st?: fs.Stats },
  overlay: boolean,
  openFiles: boolean,
  directOpen: boolean,
): Settled | undefined {
  let kind: EntryKind | undefined = guess.kind;
  let st = guess.st;
  for (let attempt = 1; ; attempt++) {
    try {
      if (kind === 'dir') {
        const sub = dir.openDir(name);
        try {
          return { st: fs.fstatSync(sub.fd), kind, dir: sub };
        } catch (err) {
          sub.close();
          throw err;
        }
      }
      if (kind === 'file' && openFiles) {
        const f = dir.openFile(name, directOpen);
        return { st: f.st, kind, fd: f.fd };
      }
      if (!st) {
        // the listing's d_type said what it is; the stat is taken only where nothing is opened
        st = lstatOrGone(dir, name);
        if (!st) return undefined;
        kind = kindOf(st, overlay);
        if (!kind) return undefined;
        if (kind === 'dir' || (kind === 'file' && openFiles)) continue;
      }
      if (kind === 'symlink') return { st, kind, linkname: dir.readlink(name) };
      return { st, kind };
    } catch (err) {
      if (hasCode(err, 'ENOENT')) return undefined; // removed since the listing
      if (!(err instanceof ChangedError)) throw err;
      if (attempt >= MAX_TRIES) {
        throw new TsrunError('CONFLICT', `${JSON.stringify('/' + rel)} kept changing while it was read`, {
          hint: 'pause the container while it is read (commit pauses by default)',
        });
      }
    }
    st = lstatOrGone(dir, name);
    if (!st) return undefined;
    kind = kindOf(st, overlay);
    if (!kind) return undefined;
  }
}

interface Pending {
  entry: WalkEntry;
  emitted: boolean;
}

/**
 * Visit every entry of `root` in layer order. `visit` is called synchronously
 * for each entry that belongs in the layer. Every lookup is confined to the
 * tree (util/confined-dir.ts): a name swapped for a symlink mid-walk is read
 * as the symlink, never followed. `root` given as a ConfinedDir stays open.
 */
export function walkTree(root: string | ConfinedDir, opts: WalkOptions, visit: (e: WalkEntry) => void): void {
  const overlay = (opts.mode ?? 'overlay') === 'overlay';
  const openFiles = opts.openFiles ?? false;
  const directOpen = opts.directOpen ?? false;
  const exclude = opts.exclude ?? new Set<string>();
  const lowers = opts.lowers ? new LowerView(opts.lowers) : undefined;
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
    const low = lowers.stat(e.rel);
    return !!low && low.isDirectory() && low.mode === e.st.mode && low.uid === e.st.uid && low.gid === e.st.gid;
  };

  /** One directory being walked: its sorted children, how far the walk got, and its open fd. */
  interface Frame {
    relDir: string;
    dir: ConfinedDir;
    underOpaque: boolean;
    items: { name: string; key: string; kind: EntryKind; st?: fs.Stats }[];
    next: number;
  }
  const open = (relDir: string, dir: ConfinedDir, underOpaque: boolean): Frame => {
    const frame: Frame = { relDir, dir, underOpaque, items: [], next: 0 };
    let names: fs.Dirent[];
    try {
      names = dir.entries();
    } catch (err) {
      if (hasCode(err, 'ENOENT')) return frame; // removed since it was opened
      throw err;
    }
    for (const d of names) {
      const name = d.name;
      // d_type is enough to sort by and to know what to open; devices (whiteouts: 0/0) and
      // file systems without d_type need the stat now
      const known: EntryKind | undefined = d.isDirectory() ? 'dir' : d.isFile() ? 'file' : d.isSymbolicLink() ? 'symlink' : undefined;
      if (known) {
        frame.items.push({ name, key: name, kind: known });
        continue;
      }
      const st = lstatOrGone(dir, name);
      if (!st) continue;
      const kind = kindOf(st, overlay);
      if (!kind) continue;
      frame.items.push({ name, key: kind === 'whiteout' ? '.wh.' + name : name, kind, st });
    }
    frame.items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return frame;
  };

  // depth-first, parents before children, with an explicit stack instead of
  // recursion: a tree may be thousands of levels deep (a hostile layer, or a
  // container's own mkdir loop), which overflowed the JS stack
  const walk = (top: ConfinedDir) => {
    const frames: Frame[] = [open('', top, false)];
    try {
      while (frames.length) {
        const f = frames[frames.length - 1]!;
        if (f.next === f.items.length) {
          frames.pop();
          if (frames.length) {
            pending.pop(); // the directory this frame walked
            f.dir.close();
          }
          continue;
        }
        const it = f.items[f.next++]!;
        const { dir, relDir, underOpaque } = f;
        const rel = relDir === '' ? it.name : relDir + '/' + it.name;
        if (exclude.has(rel)) continue;
        const got = settle(dir, it.name, rel, it, overlay, openFiles, directOpen);
        if (!got) continue;
        const e: WalkEntry = { rel, abs: dir.at(it.name), st: got.st, kind: got.kind, opaque: false, underOpaque, xattrs: new Map() };
        if (got.kind === 'whiteout') {
          emit(e);
          continue;
        }
        if (got.dir) {
          const sub = got.dir;
          let frame: Frame;
          try {
            e.abs = sub.self + '/.';
            const x = readXattrs(e.abs);
            e.xattrs = x.xattrs;
            e.opaque = overlay && x.opaque;
            const p: Pending = { entry: e, emitted: false };
            if (!lowers || e.opaque || underOpaque || !dirIsUntouched(e)) emit(e), (p.emitted = true);
            frame = open(rel, sub, underOpaque || e.opaque);
            pending.push(p);
          } catch (err) {
            sub.close();
            throw err;
          }
          frames.push(frame);
          continue;
        }
        try {
          e.xattrs = readXattrs(e.abs).xattrs;
          e.linkname = got.linkname;
          e.fd = got.fd;
          if (got.kind === 'file' && got.st.nlink > 1) {
            const key = `${got.st.dev}:${got.st.ino}`;
            const first = firstLink.get(key);
            if (first !== undefined) {
              e.kind = 'link';
              e.linkname = first;
            } else {
              firstLink.set(key, rel);
            }
          }
          emit(e);
        } finally {
          if (got.fd !== undefined) fs.closeSync(got.fd);
        }
      }
    } finally {
      // an error mid-walk: close every directory still open (not the top: the caller's)
      for (let i = frames.length - 1; i > 0; i--) frames[i]!.dir.close();
    }
  };

  const top = typeof root === 'string' ? ConfinedDir.open(root) : root;
  try {
    walk(top);
  } finally {
    if (top !== root) top.close();
  }
}
