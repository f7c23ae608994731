/**
 * Writes into a container's tree through open directory fds (util/confined-dir.ts): every name is
 * created or replaced in exactly the directory the fd holds, never through a symlink the container
 * put there. Replacing follows docker's untar: a non-directory at the name is removed first; a
 * directory is never replaced by a non-directory, nor a non-directory by a directory. A regular
 * file that is already there is opened in two steps (O_PATH, check, reopen by fd), so a device node
 * or FIFO swapped in by a running container is never opened for writing.
 */
import fs from 'node:fs';
import { ConfinedDir } from '../../util/confined-dir.js';
import { hasCode, TsrunError } from '../../util/errors.js';
import { native } from '../../native.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NOCTTY, O_TRUNC } = fs.constants;
const O_PATH = 0o10000000;

/** File metadata to set on what is written. */
export interface Meta {
  mode: number;
  /** undefined: left as created (the caller's uid/gid, root). */
  uid?: number;
  gid?: number;
  /** Seconds. */
  mtime: number;
  atime?: number;
}

function lstatOrUndef(dir: ConfinedDir, name: string): fs.Stats | undefined {
  try {
    return dir.lstat(name);
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return undefined;
    throw err;
  }
}

export const overwriteDir = (where: string) =>
  new TsrunError('CONFLICT', `cannot overwrite directory "${where}" with non-directory`, { hint: 'remove it first' });

/** Remove a non-directory at name (docker replaces it); a directory there is refused. */
function clearForNonDir(dir: ConfinedDir, name: string, where: string): void {
  const st = lstatOrUndef(dir, name);
  if (!st) return;
  if (st.isDirectory()) throw overwriteDir(where);
  fs.unlinkSync(dir.at(name));
}

/** The directory name in dir, made when missing (mode applied later by setMeta). */
export function ensureDir(dir: ConfinedDir, name: string, where: string): ConfinedDir {
  // made first: in a fresh destination (the common case) no lookup and no thrown ENOENT
  try {
    fs.mkdirSync(dir.at(name), { mode: 0o755 });
  } catch (err) {
    if (!hasCode(err, 'EEXIST')) throw err;
    const st = lstatOrUndef(dir, name);
    if (st && !st.isDirectory()) {
      throw new TsrunError('CONFLICT', `cannot overwrite non-directory "${where}" with directory`, { hint: 'remove it first' });
    }
  }
  return dir.openDir(name);
}

/** An fd open for writing on the regular file name (truncated or new). */
export function createFile(dir: ConfinedDir, name: string, where: string): number {
  const st = lstatOrUndef(dir, name);
  if (st?.isFile()) {
    const pfd = fs.openSync(dir.at(name), O_PATH | O_NOFOLLOW);
    try {
      if (fs.fstatSync(pfd).isFile()) return fs.openSync(`/proc/self/fd/${pfd}`, O_WRONLY | O_TRUNC | O_NOCTTY);
    } finally {
      fs.closeSync(pfd);
    }
  }
  clearForNonDir(dir, name, where);
  // O_EXCL: whatever appears at the name meanwhile is not opened
  return fs.openSync(dir.at(name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY, 0o600);
}

/** Copy the regular file open as srcFd to name. */
export function writeFileFrom(dir: ConfinedDir, name: string, where: string, srcFd: number, meta: Meta): void {
  const fd = createFile(dir, name, where);
  try {
    copyFd(srcFd, fd);
    setFdMeta(fd, meta);
  } finally {
    fs.closeSync(fd);
  }
}

let buf: Buffer | undefined;

/**
 * Copy srcFd to dstFd with one reused buffer: a small file (most of a tree) is one read, one write
 * and the read that sees its end, where copyFileSync's reopening by path costs twice as many calls.
 */
function copyFd(srcFd: number, dstFd: number): void {
  buf ??= Buffer.allocUnsafe(1 << 20);
  for (;;) {
    const n = fs.readSync(srcFd, buf, 0, buf.length, null);
    if (n === 0) return;
    for (let off = 0; off < n; ) off += fs.writeSync(dstFd, buf, off, n - off);
  }
}

export function setFdMeta(fd: number, meta: Meta): void {
  if (meta.uid !== undefined) fs.fchownSync(fd, meta.uid, meta.gid ?? 0);
  fs.fchmodSync(fd, meta.mode & 0o7777); // after chown, which clears setuid bits
  fs.futimesSync(fd, meta.atime ?? meta.mtime, meta.mtime);
}

/** Mode, owner and times of a directory (after its contents are written: they change its mtime). */
export function setDirMeta(d: ConfinedDir, meta: Meta): void {
  setFdMeta(d.fd, meta);
}

export function writeSymlink(dir: ConfinedDir, name: string, where: string, target: string, meta: Meta): void {
  clearForNonDir(dir, name, where);
  fs.symlinkSync(target, dir.at(name));
  if (meta.uid !== undefined) fs.lchownSync(dir.at(name), meta.uid, meta.gid ?? 0);
  fs.lutimesSync(dir.at(name), meta.atime ?? meta.mtime, meta.mtime);
}

/** A device node or FIFO (rdev as the kernel gives it, or major/minor). */
export function writeNode(dir: ConfinedDir, name: string, where: string, type: 'char' | 'block' | 'fifo', major: number, minor: number, meta: Meta): void {
  clearForNonDir(dir, name, where);
  const fmt = type === 'char' ? fs.constants.S_IFCHR : type === 'block' ? fs.constants.S_IFBLK : fs.constants.S_IFIFO;
  native().mknod(dir.at(name), fmt | (meta.mode & 0o7777), major, minor);
  if (meta.uid !== undefined) fs.lchownSync(dir.at(name), meta.uid, meta.gid ?? 0);
  // not opened: chmod by name would follow a symlink swapped in, so only the mknod mode (less the umask) and times
  fs.lutimesSync(dir.at(name), meta.atime ?? meta.mtime, meta.mtime);
}

/** A hard link at name to `existing` (a path through an open dir fd, as ConfinedDir.at gives). */
export function writeHardlink(dir: ConfinedDir, name: string, where: string, existing: string): void {
  clearForNonDir(dir, name, where);
  fs.linkSync(existing, dir.at(name)); // linkat without AT_SYMLINK_FOLLOW: a symlink is linked, not followed
}

export function major(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}
export function minor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}
