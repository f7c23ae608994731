/**
 * The one loader of the compiled addon (build/Release/tsrun_native.node).
 * Nothing else touches the .node file. Every function throws a Node-style
 * error (err.code = 'EPERM', err.errno, err.syscall) on failure.
 *
 * The addon is for host-side work only: it never enters namespaces, because
 * Node is multi-threaded and unshare() from Node moves one thread only.
 * Entering namespaces is tsrun-init's job (native/init/).
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

export interface OverlayOptions {
  /** Lower dirs, topmost first (overlayfs order). Passed one by one with `lowerdir+`. */
  lowerdirs: string[];
  upperdir?: string;
  workdir?: string;
  /** Extra fsconfig string options, e.g. { redirect_dir: 'off', metacopy: 'off', index: 'off' }. */
  options?: Record<string, string>;
  /** Mount as a read-only view: MOUNT_ATTR_RDONLY, NODEV, NOSUID, NOEXEC. */
  readonly?: boolean;
}

export interface NativeAddon {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  /** fsopen("overlay") + fsconfig(lowerdir+ per layer, upperdir, workdir, options) + fsmount + move_mount. */
  mountOverlay(target: string, opts: OverlayOptions): void;
  /** Paths: a Buffer is a path as bytes (not UTF-8 decoded), for layer names. */
  mknod(path: string | Buffer, mode: number, major: number, minor: number): void;
  /** Returns null when the attribute does not exist (ENODATA). */
  lgetxattr(path: string | Buffer, name: string): Buffer | null;
  lsetxattr(path: string | Buffer, name: string, value: Buffer, flags: number): void;
  llistxattr(path: string | Buffer): string[];
  lremovexattr(path: string, name: string): void;
  /** flock(2) on an open fd; op is LOCK_SH/LOCK_EX (| LOCK_NB). Returns false on EWOULDBLOCK with LOCK_NB. */
  flock(fd: number, op: number): boolean;
  /**
   * One complete gzip member of `input` (libdeflate, level 0-12; 1-9 as zlib's),
   * compressed on libuv's thread pool. Optional: an addon built before it existed
   * lacks it, and callers fall back to node:zlib.
   */
  gzipDeflate?(input: Uint8Array, level: number): Promise<Buffer>;
  /** OR `flags` into the inode flags of `path` (FS_IOC_GETFLAGS/SETFLAGS, as `chattr +X`). */
  addInodeFlags(path: string, flags: number): void;
  /**
   * posix_spawn of the launcher with the plan pipe's read end as its fd 3 and
   * the status pipe's write end as its fd 4 (native/addon/spawn.c). The
   * returned fds are tsrun's ends, close-on-exec. detach: stdio on /dev/null,
   * new session; else tsrun's own fds 0-2, or the three of `stdio`.
   */
  spawnLauncher(path: string, detach: boolean, stdio?: [number, number, number]): { pid: number; planFd: number; statusFd: number };
  /** pipe2(O_CLOEXEC): [read end, write end]. */
  pipe(): [number, number];
  /**
   * A file of a directory tree as a chroot into it would see it (openat2
   * RESOLVE_IN_ROOT): null when absent, false when something else is there
   * (a directory, a whiteout) or it is larger than maxBytes. Throws ENOSYS
   * before Linux 5.6.
   */
  readFileInRoot(root: string, path: string, maxBytes: number): Buffer | null | false;
  /** waitpid(2) on a child of ours: null while it runs (block=false), else how it ended. */
  waitpid(pid: number, block: boolean): { code?: number; signal?: number } | null;
  /**
   * OCI linux.resources (JSON) written into a container's cgroup dirs (one per v1 hierarchy,
   * or the v2 dir) by native/cgroup/, the mapping tsrun-runtime uses. Throws (code ECGROUP)
   * with a one-line message, e.g. a controller that is not available.
   */
  cgroupApply(version: number, dirs: string[], resourcesJson: string): void;
  /**
   * Create and fill a batch of new regular files on libuv's pool (native/addon/writefiles.c):
   * per file, 8 numbers in `meta` (offset and length of its NUL-terminated path in `paths`,
   * how many of `bufs` are its data, uid, gid, mode, atime, mtime); open O_EXCL|O_NOFOLLOW,
   * write, fchown, fchmod, futimens, close. `done` gets null, or [index, errno, step] triples.
   */
  writeFiles(paths: Buffer, meta: Float64Array, bufs: Buffer[], done: (failures: Int32Array | null) => void): void;
  /**
   * Start copying a batch of regular files on threads of their own (native/addon/copyfiles.c,
   * for cp): per file, 6 numbers in `meta` (source dir fd, offset and length of its NUL-terminated
   * name in `names`, destination dir fd, offset, length); `opts` is [live, owner (0 keep,
   * 1 source's, 2 uid/gid), uid, gid, threads]. The dir fds must stay open until copyFilesWait.
   */
  copyFilesStart(names: Buffer, meta: Int32Array, opts: Float64Array): object;
  /** Wait for a batch: null, or [index, errno, step] triples (copy-batch.ts reads them). */
  copyFilesWait(handle: object): Int32Array | null;
  /**
   * A tar stream written to the blob file `fd` and sha256'd on libuv's pool and a thread of its own
   * (native/addon/tarfiles.c): the bytes of `headers` with each file's data (its NUL-terminated
   * path in `paths`, in order) put in at its offset. `meta`, 3 numbers per file: that offset, its
   * size, 1 to sha256 its bytes too. `done` gets a failure [index (-1: the blob's write), errno,
   * step 0 open|1 read|2 write] or null, the stream's sha256 (hex), the bytes read per file and
   * 32 bytes of sha256 per file (zeros where not asked).
   */
  /**
   * One directory listed (native/addon/readdirstats.c): the names (readdir order), 13 numbers
   * per entry of lstat (mode, uid, gid, size, dev, ino, nlink, atime s/ns, mtime s/ns, ctime
   * s/ns) and per entry 0 no xattrs, 1 some, 2 unknown (llistxattr failed: ask again).
   */
  readDirStats(dir: string): [names: string[], stats: BigInt64Array, xattrs: Uint8Array];
  tarFiles(
    fd: number,
    headers: Buffer,
    paths: Buffer,
    meta: Float64Array,
    done: (failure: Int32Array | null, digest: string | null, got: Float64Array | null, sums: Buffer | null) => void,
  ): void;
  /*
   * The cgroup manager (native/cgroup/manager.c + resolve.c), the one tsrun-init and tsrun-runtime use.
   * Each takes the version recorded for the container (1 or 2) and its dirs; errors carry the
   * manager's one-line message and its errno's name as code (ECGROUP when none).
   */
  /**
   * linux.cgroupsPath → the container's dirs (runc's cgroupfs rules; `all`: every v1 hierarchy,
   * else tsrun's controllers) and each one's controllers ("cpu,cpuacct"; "" on v2). Nothing made.
   */
  cgroupResolve(cgroupsPath: string, all: boolean): { version: 1 | 2; dirs: string[]; controllers: string[] };
  /** mkdir -p the dirs (v1 cpuset filled, v2 controllers enabled) and write linux.resources; removed on failure. */
  cgroupCreate(version: number, dirs: string[], resourcesJson: string): void;
  cgroupPids(version: number, dirs: string[]): number[];
  /** Freeze (waiting up to timeoutMs for the kernel to settle, else thawed and ETIMEDOUT) or thaw. */
  cgroupFreeze(version: number, dirs: string[], freeze: boolean, timeoutMs: number): void;
  /** 1 frozen (requested: a freeze asked for, settled or not), 0 not, -1 no freezer. */
  cgroupFrozen(version: number, dirs: string[], requested: boolean): number;
  /** Signal every process (frozen meanwhile; v2 SIGKILL by cgroup.kill). */
  cgroupKill(version: number, dirs: string[], signal: number): void;
  /** rmdir each dir (missing ones are fine), retrying up to timeoutMs while one is busy. */
  cgroupRemove(version: number, dirs: string[], timeoutMs: number): void;
  /** Absolute path of the tsrun-init launcher executable built next to the addon. */
  initPath(): string;
}

/** Mount flags from <sys/mount.h> that TypeScript code passes to mount()/umount2(). */
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
} as const;
export const MNT_DETACH = 2;
export const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;
/** FS_TOPDIR_FL: ext4's 'top of directory hierarchy' allocation hint (chattr +T). */
export const FS_TOPDIR_FL = 0x00020000;
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

let cached: NativeAddon | undefined;

/** Directory holding the compiled artefacts (addon and tsrun-init). */
export function nativeBuildDir(): string {
  // dist/src/native.js → ../../build/Release ; src/native.ts (tests via tsx) → ../build/Release ;
  // the esbuild bundle dist/bundle/cli/*.js (scripts/bundle.js) → ../../../build/Release
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const rel of ['../../build/Release', '../build/Release', '../../../build/Release']) {
    const dir = path.resolve(here, rel);
    if (fs.existsSync(path.join(dir, 'tsrun_native.node'))) return dir;
  }
  return path.resolve(here, '../../build/Release');
}

export function native(): NativeAddon {
  if (cached) return cached;
  const dir = nativeBuildDir();
  try {
    // process.dlopen, not require(): the same load minus the module resolution (~0.5 ms of every command)
    const mod = { exports: {} as Omit<NativeAddon, 'initPath'> };
    process.dlopen(mod, path.join(dir, 'tsrun_native.node'));
    const addon = mod.exports;
    cached = { ...addon, initPath: () => path.join(dir, 'tsrun-init') };
  } catch (err) {
    const e = new Error(`cannot load the native addon from ${dir}: run \`npm install\` (it builds native/ with node-gyp)`);
    (e as NodeJS.ErrnoException).code = 'ENATIVE';
    throw e;
  }
  return cached;
}
