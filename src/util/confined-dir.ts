/**
 * A handle on a directory of a tree that someone else may be changing while
 * tsrun reads it (a running container's upper dir, the merged view of its
 * root, later the source of `cp`), such that no lookup ever leaves the tree.
 *
 * Every access goes through an open directory fd: a path
 * `/proc/self/fd/FD/NAME` makes the kernel start at exactly the directory
 * the fd holds (wherever it has been moved meanwhile) and look up one
 * component, NAME, which the l* calls (lstat, readlink, l*xattr) never
 * follow and opens refuse to follow (O_NOFOLLOW). A path of names from the
 * root, looked up again for each call, would follow a directory that the
 * container swapped for a symlink to `/` between two calls: that is how
 * `export` once tarred the host's /root.
 *
 * Regular files are opened in two steps (O_PATH, check it is a regular file,
 * then reopen the same inode through its fd): a container may swap a file
 * for a device node or a FIFO, and opening those on the host has effects
 * (a watchdog arms, a FIFO blocks).
 */
import fs from 'node:fs';
import { TsrunError } from './errors.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NOCTTY, O_NONBLOCK } = fs.constants;
/** Linux's O_PATH (not in Node's fs.constants). */
const O_PATH = 0o10000000;

/** The thing at a name changed while it was being read (the caller decides whether to look again). */
export class ChangedError extends Error {
  constructor(readonly entry: string) {
    super(`${entry} changed while it was read`);
  }
}

function checkName(name: string): void {
  if (!name || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new TsrunError('UNSAFE_PATH', `not a single path component: ${JSON.stringify(name)}`);
  }
}

export class ConfinedDir {
  private closed = false;
  private constructor(readonly fd: number) {}

  /** Open the root of a walk: a path tsrun owns (its last component must not be a symlink). */
  static open(dir: string): ConfinedDir {
    return new ConfinedDir(fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY));
  }

  /**
   * Open a directory through a path the kernel resolves in full, magic links included: for
   * `/proc/PID/root`, a running container's root as its mount namespace shows it. Only for paths
   * tsrun makes itself; everything below is then looked up one name at a time.
   */
  static openFollowing(dir: string): ConfinedDir {
    return new ConfinedDir(fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NOCTTY));
  }

  /** This directory as a path the kernel resolves through the fd (for l*xattr: `${self}/.`). */
  get self(): string {
    return `/proc/self/fd/${this.fd}`;
  }

  /** NAME in this directory as a path where only NAME is looked up (valid while this handle is open). */
  at(name: string): string {
    checkName(name);
    return `/proc/self/fd/${this.fd}/${name}`;
  }

  names(): string[] {
    return fs.readdirSync(this.self);
  }

  /** The entries with their d_type (a hint: the thing may change before it is opened). */
  entries(): fs.Dirent[] {
    return fs.readdirSync(this.self, { withFileTypes: true });
  }

  lstat(name: string): fs.Stats {
    return fs.lstatSync(this.at(name));
  }

  readlink(name: string): string {
    try {
      return fs.readlinkSync(this.at(name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EINVAL') throw new ChangedError(name); // no longer a symlink
      throw err;
    }
  }

  /** The subdirectory NAME; ChangedError when something else is there now. */
  openDir(name: string): ConfinedDir {
    try {
      return new ConfinedDir(fs.openSync(this.at(name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'ENOTDIR') throw new ChangedError(name);
      throw err;
    }
  }

  /**
   * The regular file NAME, open for reading, with its stat; ChangedError when
   * something else is there now (nothing but a regular file is ever opened).
   * `direct`: one open instead of O_PATH + reopen (which costs most of a
   * commit's walk), only where no device node can be opened by it: a tree
   * that nothing changes meanwhile, or one mounted nodev.
   */
  openFile(name: string, direct = false): { fd: number; st: fs.Stats } {
    if (direct) {
      // one step, for trees nothing changes meanwhile or mounted nodev (a device node then fails
      // to open); O_NONBLOCK: a FIFO opens at once and is refused below
      let fd: number;
      try {
        fd = fs.openSync(this.at(name), O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // a symlink (ELOOP), a socket (ENXIO), a device node on a nodev mount (EACCES)
        if (code === 'ELOOP' || code === 'ENXIO' || code === 'EACCES') throw new ChangedError(name);
        throw err;
      }
      const st = fs.fstatSync(fd);
      if (st.isFile()) return { fd, st };
      fs.closeSync(fd);
      throw new ChangedError(name);
    }
    const pfd = fs.openSync(this.at(name), O_PATH | O_NOFOLLOW);
    try {
      const st = fs.fstatSync(pfd);
      if (!st.isFile()) throw new ChangedError(name);
      // the same inode, reopened through its fd: no second lookup of NAME
      const fd = fs.openSync(`/proc/self/fd/${pfd}`, O_RDONLY | O_NOCTTY);
      return { fd, st };
    } finally {
      fs.closeSync(pfd);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}
