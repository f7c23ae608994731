/**
 * The copy engine of `cp`: one entry (a file, symlink, node, or a directory with everything below
 * it) from an open source directory to an open destination directory. Both sides are ConfinedDirs,
 * whichever is the container's: the source is walked with diff/walk.ts (one name at a time through
 * directory fds, nothing followed) and the destination written with write-confined.ts, so a hostile
 * name or symlink on either side never leads outside the two trees.
 */
import fs from 'node:fs';
import { ConfinedDir } from '../../util/confined-dir.js';
import { walkTree, type WalkEntry } from '../../diff/walk.js';
import { TsrunError } from '../../util/errors.js';
import { resolveInRoot } from './resolve.js';
import { ensureDir, major, minor, setDirMeta, writeFileFrom, writeHardlink, writeNode, writeSymlink, type Meta } from './write-confined.js';

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

/**
 * Copy the contents of directory src into directory dst (made by the caller), then give dst the
 * source's metadata when srcSt is given.
 */
export function copyDirContents(src: ConfinedDir, dst: ConfinedDir, where: string, p: CopyPolicy, srcSt?: fs.Stats): void {
  // open destination directories, deepest last; each gets its metadata when the walk leaves it
  const stack: { rel: string; dir: ConfinedDir; st?: fs.Stats }[] = [{ rel: '', dir: dst, st: srcSt }];
  const leave = (until: string) => {
    while (stack.length > 1 && !(until === stack[stack.length - 1]!.rel || until.startsWith(stack[stack.length - 1]!.rel + '/'))) {
      const f = stack.pop()!;
      setDirMeta(f.dir, metaOf(f.st!, p));
      f.dir.close();
    }
  };
  try {
    walkTree(src, { mode: 'plain', openFiles: true, directOpen: p.staticSource, exclude: p.exclude }, (e: WalkEntry) => {
      const slash = e.rel.lastIndexOf('/');
      const parentRel = slash < 0 ? '' : e.rel.slice(0, slash);
      const name = e.rel.slice(slash + 1);
      leave(parentRel);
      const top = stack[stack.length - 1]!;
      if (top.rel !== parentRel) throw new TsrunError('INTERNAL', `cp: walk order broken at ${e.rel}`);
      const at = `${where}/${e.rel}`;
      switch (e.kind) {
        case 'dir':
          stack.push({ rel: e.rel, dir: ensureDir(top.dir, name, at), st: e.st });
          return;
        case 'link': {
          // a hard link to an entry copied before: its copy, looked up inside the destination
          const first = resolveInRoot(dst, e.linkname!, false, at);
          try {
            if (!first.st || first.name === null) throw new TsrunError('CONFLICT', `${at} changed while it was copied`, { hint: 'try again' });
            writeHardlink(top.dir, name, at, first.dir.at(first.name));
          } finally {
            first.close();
          }
          return;
        }
        case 'file':
          // opened by the walker through its directory fds (never by a path from the root)
          writeFileFrom(top.dir, name, at, e.fd!, metaOf(e.st, p));
          return;
        case 'symlink':
          writeSymlink(top.dir, name, at, e.linkname!, metaOf(e.st, p));
          return;
        case 'char':
        case 'block':
        case 'fifo':
          writeNode(top.dir, name, at, e.kind, major(e.st.rdev), minor(e.st.rdev), metaOf(e.st, p));
          return;
        default:
          return; // sockets (and whiteouts, which a plain walk does not give)
      }
    });
    leave('\0');
    if (srcSt) setDirMeta(dst, metaOf(srcSt, p));
  } finally {
    for (const f of stack.slice(1)) f.dir.close();
  }
}
