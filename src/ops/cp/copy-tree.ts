/**
 * The copy engine of `cp`: one entry (a file, symlink, node, or a directory with everything below
 * it) from an open source directory to an open destination directory. Both sides are ConfinedDirs,
 * whichever is the container's: the source is walked with diff/walk.ts (one name at a time through
 * directory fds, nothing followed) and the destination written with write-confined.ts, so a hostile
 * name or symlink on either side never leads outside the two trees.
 */
import fs from 'node:fs';
import { ConfinedDir } from '../../util/confined-dir.js';
import { kindOf, lstatOrGone, settle, type EntryKind, type Settled } from '../../diff/walk.js';
import { hasCode, TsrunError } from '../../util/errors.js';
import { CF_DST_DIR, CF_GONE, FileBatcher } from './copy-batch.js';
import { resolveInRoot } from './resolve.js';
import { ensureDir, major, minor, overwriteDir, setDirMeta, writeFileFrom, writeHardlink, writeNode, writeSymlink, type Meta } from './write-confined.js';

export interface CopyPolicy {
  /** The owner to give: the source's (`-a`), a fixed one (into a container: root), or none (the caller's). */
  owner: 'source' | { uid: number; gid: number } | undefined;
  /** The source tree does not change meanwhile (or is mounted nodev): files open in one step. */
  staticSource: boolean;
  /** Names left out below the source directory (a running container's /proc and /sys). */
  exclude?: ReadonlySet<string>;
}

function metaOf(st: fs.Stats, p: CopyPolicy): Meta {
  const own = p.owner === 'source' ? { uid: st.uid, gid: st.gid } : p.owner;
  return { mode: st.mode, uid: own?.uid, gid: own?.gid, mtime: st.mtimeMs / 1000, atime: st.atimeMs / 1000 };
}

/** Copy the non-directory srcName (lstat st) of srcDir to dstName in dstDir. */
export function copyLeaf(srcDir: ConfinedDir, srcName: string, st: fs.Stats, dstDir: ConfinedDir, dstName: string, where: string, p: CopyPolicy): void {
  const meta = metaOf(st, p);
  if (st.isFile()) {
    const { fd } = srcDir.openFile(srcName, p.staticSource);
    try {
      writeFileFrom(dstDir, dstName, where, fd, meta);
    } finally {
      fs.closeSync(fd);
    }
  } else if (st.isSymbolicLink()) {
    writeSymlink(dstDir, dstName, where, srcDir.readlink(srcName), meta);
  } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
    const type = st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : 'fifo';
    writeNode(dstDir, dstName, where, type, major(st.rdev), minor(st.rdev), meta);
  } else {
    throw new TsrunError('UNSUPPORTED', `cannot copy ${where}: a socket`, { hint: 'sockets cannot be copied' });
  }
}

/** What the batch cannot copy (not a regular file, or one with hard links), read again and copied here. */
function copyOther(got: Settled, top: { src: ConfinedDir; dst: ConfinedDir }, name: string, rel: string, at: string, p: CopyPolicy, links: HardLinks): void {
  switch (got.kind) {
    case 'file': {
      if (got.st.nlink > 1) {
        // a hard link to an entry copied before: its copy, looked up inside the destination
        const key = `${got.st.dev}:${got.st.ino}`;
        const first = links.first.get(key);
        if (first !== undefined) {
          const f = resolveInRoot(links.root, first, false, at);
          try {
            if (!f.st || f.name === null) throw new TsrunError('CONFLICT', `${at} changed while it was copied`, { hint: 'try again' });
            writeHardlink(top.dst, name, at, f.dir.at(f.name));
          } finally {
            f.close();
          }
          return;
        }
        links.first.set(key, rel);
      }
      writeFileFrom(top.dst, name, at, got.fd!, metaOf(got.st, p));
      return;
    }
    case 'symlink':
      writeSymlink(top.dst, name, at, got.linkname!, metaOf(got.st, p));
      return;
    case 'char':
    case 'block':
    case 'fifo':
      writeNode(top.dst, name, at, got.kind, major(got.st.rdev), minor(got.st.rdev), metaOf(got.st, p));
      return;
    default:
      return; // sockets, which a walk skips
  }
}

interface HardLinks {
  /** The top of the destination (hard links are looked up from there). */
  root: ConfinedDir;
  /** dev:ino of a source file with other links → its rel, the first copied. */
  first: Map<string, string>;
}

/** One directory being copied: its sorted entries, how far the copy got, both ends open. */
interface Frame {
  rel: string;
  src: ConfinedDir;
  dst: ConfinedDir;
  st?: fs.Stats;
  items: { name: string; kind?: EntryKind }[];
  next: number;
}

function listDir(src: ConfinedDir): Frame['items'] {
  let ents: fs.Dirent[];
  try {
    ents = src.entries();
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return []; // removed since it was opened (a running container)
    throw err;
  }
  // d_type says what to open; the others (devices, file systems without d_type) are looked at when reached
  const items = ents.map((d) => ({ name: d.name, kind: d.isDirectory() ? ('dir' as const) : d.isFile() ? ('file' as const) : d.isSymbolicLink() ? ('symlink' as const) : undefined }));
  return items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Copy the contents of directory src into directory dst (made by the caller), then give dst the
 * source's metadata when srcSt is given. Names in byte order, parents before children, as the
 * layer walker (diff/walk.ts) goes; regular files go to a FileBatcher (copy-batch.ts), the rest
 * is read with the walker's settle() (one name through a directory fd, re-read when it changes
 * under a running container) and written with write-confined.ts. A directory's metadata is set
 * once every file in it is written.
 */
export function copyDirContents(src: ConfinedDir, dst: ConfinedDir, where: string, p: CopyPolicy, srcSt?: fs.Stats): void {
  const links: HardLinks = { root: dst, first: new Map() };
  const own = p.owner === 'source' ? 1 : p.owner ? 2 : 0;
  const fixed = typeof p.owner === 'object' ? p.owner : { uid: 0, gid: 0 };
  const batch = new FileBatcher({
    live: !p.staticSource,
    owner: own,
    uid: fixed.uid,
    gid: fixed.gid,
    leftover: (f, what) => {
      if (what === CF_GONE) return; // removed since the listing
      if (what === CF_DST_DIR) throw overwriteDir(f.at);
      const got = settle(f.src, f.name, f.rel, { kind: 'file' }, false, true, p.staticSource);
      if (!got) return;
      try {
        if (got.dir) throw new TsrunError('CONFLICT', `${f.at} changed while it was copied`, { hint: 'try again' });
        copyOther(got, f, f.name, f.rel, f.at, p, links);
      } finally {
        got.dir?.close();
        if (got.fd !== undefined) fs.closeSync(got.fd);
      }
    },
  });
  const frames: Frame[] = [{ rel: '', src, dst, st: srcSt, items: listDir(src), next: 0 }];
  try {
    while (frames.length) {
      const f = frames[frames.length - 1]!;
      if (f.next === f.items.length) {
        frames.pop();
        const meta = f.st && metaOf(f.st, p);
        const owned = frames.length > 0; // the top's dirs are the caller's
        batch.after({
          done: meta && (() => setDirMeta(f.dst, meta)),
          close: () => {
            if (!owned) return;
            f.src.close();
            f.dst.close();
          },
        });
        continue;
      }
      const it = f.items[f.next++]!;
      const rel = f.rel === '' ? it.name : `${f.rel}/${it.name}`;
      if (p.exclude?.has(rel)) continue;
      const at = `${where}/${rel}`;
      if (it.kind === 'file') {
        batch.add({ src: f.src, dst: f.dst, name: it.name, rel, at });
        continue;
      }
      let guess: EntryKind | undefined = it.kind;
      if (!guess) {
        const st = lstatOrGone(f.src, it.name);
        guess = st && kindOf(st, false);
        if (!guess) continue; // gone, or a socket
      }
      const got = settle(f.src, it.name, rel, { kind: guess }, false, false, p.staticSource);
      if (!got) continue;
      if (got.dir) {
        let into: ConfinedDir | undefined;
        try {
          into = ensureDir(f.dst, it.name, at);
          frames.push({ rel, src: got.dir, dst: into, st: got.st, items: listDir(got.dir), next: 0 });
        } catch (err) {
          got.dir.close();
          into?.close();
          throw err;
        }
        continue;
      }
      if (got.kind === 'file') {
        // a file where the listing said something else: the batch reads it as it is then
        batch.add({ src: f.src, dst: f.dst, name: it.name, rel, at });
        continue;
      }
      copyOther(got, f, it.name, rel, at, p, links);
    }
    batch.finish();
  } finally {
    try {
      batch.abort(); // nothing left after finish(); after a failure, waits for the running batch first
    } finally {
      for (const f of frames.slice(1)) f.src.close(), f.dst.close();
    }
  }
}
