/**
 * apply: unpack one layer tar into a directory.
 *
 * Two uses:
 * - the layer store unpacks each layer into a fresh directory that becomes an
 *   overlay lower dir (`whiteouts: 'overlay'`, the default): OCI whiteouts are
 *   turned into overlay form — `.wh.NAME` becomes a 0/0 char device NAME, and
 *   `D/.wh..wh..opq` becomes `trusted.overlay.opaque=y` on D;
 * - flattening applies a layer onto an existing tree (`whiteouts: 'apply'`):
 *   `.wh.NAME` deletes NAME and an opaque marker clears what D held before
 *   this layer.
 *
 * Everything in the tar is hostile. Apply never writes outside destDir: names
 * are cleaned lexically (cleanMemberName), parents are walked with lstat and a
 * symlink parent is refused (never followed), files are created with O_EXCL |
 * O_NOFOLLOW, hardlinks may only point at non-directories unpacked earlier
 * from this same layer (or at AUFS's .wh..wh.plnk store), and a non-directory
 * name repeated in the layer is refused (a directory listed twice takes the
 * later metadata, as containerd does). Sizes and entry counts are bounded,
 * and so is nesting: at most MAX_DEPTH levels and PATH_MAX bytes (see below).
 * The caller unpacks into a temp dir and removes it on error, so apply does
 * not clean up after a failure.
 *
 * Names are byte strings (tarreader.ts) and reach the filesystem as bytes
 * (Buffer paths), so names that are not UTF-8 are kept, as docker keeps them.
 * Nothing here recurses per directory level: a hostile tree may be deep.
 *
 * Metadata kept: numeric owner (lchown), mode with setuid/setgid/sticky (chmod
 * after chown, which clears them), xattrs from pax `SCHILY.xattr.*` (set after
 * chown, which drops security.capability), mtimes (directories last, deepest
 * first, so later entries do not change them). `trusted.overlay.*` xattrs in
 * the tar are dropped: only apply itself writes overlay metadata.
 *
 * Speed: the tar is parsed and checked here, synchronously; regular files are
 * created and written concurrently on libuv's pool (apply-files.ts), since
 * file creation is what unpacking waits on: small ones in batches by the addon
 * (apply-batch.ts), so the JS thread, which the whole unpack waits on, makes
 * no call per file. Directories, symlinks, devices and whiteouts stay
 * synchronous (they are few, and children need them).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { native, type NativeAddon } from '../native.js';
import { TsrunError, isTsrunError, syscallError, unsafePath, hasCode } from '../util/errors.js';
import { cleanMemberName } from '../util/paths.js';
import { TarReader, type TarDataSink, type TarEntry } from './tarreader.js';
import { removeTree } from '../util/rmtree.js';
import { randomHex } from '../util/builtins.js';
import { ConcurrentFiles, CREATE_FLAGS, type FileSink } from './apply-files.js';
import { LowerLinks } from './apply-lower.js';
import { MAX_DEPTH, PATH_MAX, WH_PREFIX, WH_META_PREFIX, WH_OPAQUE, OVERLAY_OPAQUE, AUFS_PLNK, q, B, badLayer, depth, parentOf, checkOwner, unixTime } from './apply-names.js';

export { MAX_DEPTH } from './apply-names.js';

export interface ApplyOptions {
  /** Largest total size of regular-file data (default 64 GiB). */
  maxBytes?: number;
  /** Largest number of entries (default 2,000,000). */
  maxEntries?: number;
  /** Unix seconds: any later mtime/atime in the tar is set to this instead. */
  mtimeClamp?: number;
  /** 'overlay' (default): whiteouts become overlay whiteouts; 'apply': they delete what they name. */
  whiteouts?: 'overlay' | 'apply';
  /**
   * The unpacked layers below this one, topmost first, for hardlinks to their
   * files (apply-lower.ts). Called once the layer has been read, only when it
   * has such a hardlink; it may wait for a layer still being unpacked.
   */
  lowerDirs?: () => Promise<readonly string[]>;
}

export interface ApplyResult {
  /** Entries applied (whiteouts included; pax/long-name headers not). */
  entries: number;
  /** Sum of regular-file sizes. */
  bytes: number;
}

export const DEFAULT_MAX_BYTES = 64 * 1024 ** 3;
export const DEFAULT_MAX_ENTRIES = 2_000_000;
const { S_IFCHR, S_IFBLK, S_IFIFO } = fs.constants;

/** Unpack an uncompressed layer tar into destDir (see the module comment). */
export async function applyLayer(tar: Readable, destDir: string, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const files = new ConcurrentFiles();
  const applier = new Applier(destDir, opts, files);
  const reader = new TarReader((e) => applier.entry(e));
  try {
    // read to EOF even after the end marker: the caller may be hashing this stream
    for await (const chunk of tar) {
      reader.push(chunk as Buffer);
      files.flush(); // the small files this chunk completed, as one batch
      if (files.busy()) await files.wait();
      if (files.error !== undefined) throw files.error;
    }
    reader.finish();
    await files.drain();
    if (files.error !== undefined) throw files.error;
    if (applier.lowerLinks.pending()) applier.lowerLinks.make(opts.whiteouts === 'apply' ? [] : ((await opts.lowerDirs?.()) ?? []));
    applier.dropAufsStore();
    applier.finish();
  } finally {
    // nothing may still be writing when the caller removes the directory
    files.abort();
    await files.drain();
  }
  return { entries: applier.entries, bytes: applier.bytes };
}

class Applier {
  entries = 0;
  bytes = 0;
  readonly root: string;
  private readonly maxBytes: number;
  private readonly maxEntries: number;
  private readonly clamp: number | undefined;
  readonly mode: 'overlay' | 'apply';
  /** Cleaned names of every entry so far (for whiteouts: the name they hide). */
  readonly seen = new Set<string>();
  /** Every proper parent of an entry so far: never replaced by a later non-directory. */
  private readonly ancestors = new Set<string>();
  /** Paths known to be real directories (not symlinks) in this tree. */
  readonly dirs = new Set<string>(['']);
  /** Regular files (and hardlinks to them) of this layer: the job that writes each. */
  readonly regular = new Map<string, FileSink>();
  /** Symlinks, devices and fifos of this layer (created at once): hardlink targets too. */
  readonly special = new Set<string>();
  /** Directories of this layer (a directory may be listed again). */
  readonly dirEntries = new Set<string>();
  /** Opaque directories of this layer (what the layers below hold there is hidden). */
  readonly opaque = new Set<string>();
  /** Hardlinks to files of the layers below, made once the layer has been read. */
  readonly lowerLinks = new LowerLinks(this);
  /** Where AUFS's .wh..wh.plnk files are kept while the layer is unpacked (a hidden dir, removed at the end). */
  private aufsStore: string | undefined;
  readonly dirTimes: { abs: string; depth: number; atime: number; mtime: number }[] = [];
  private nat: NativeAddon | undefined;

  constructor(
    destDir: string,
    opts: ApplyOptions,
    private readonly files: ConcurrentFiles,
  ) {
    this.root = Buffer.from(path.resolve(destDir)).toString('latin1');
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.clamp = opts.mtimeClamp;
    this.mode = opts.whiteouts ?? 'overlay';
    let st: fs.Stats;
    try {
      st = fs.statSync(B(this.root));
    } catch (err) {
      throw syscallError(`layer destination ${destDir}`, err);
    }
    if (!st.isDirectory()) throw new TsrunError('INTERNAL', `layer destination ${destDir} is not a directory`);
  }

  private native(): NativeAddon {
    return (this.nat ??= native());
  }

  abs(rel: string): string {
    return rel === '' ? this.root : this.root + '/' + rel;
  }

  entry(e: TarEntry): TarDataSink | null {
    if (++this.entries > this.maxEntries) {
      throw new TsrunError('TOO_LARGE', `layer has more than ${this.maxEntries} entries (at ${q(e.name)})`, {
        hint: 'the layer is malformed or hostile (a tar bomb)',
      });
    }
    const rel = cleanMemberName(e.name);
    let depth = 1;
    for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 47) depth++;
    if (depth > MAX_DEPTH) {
      throw badLayer(`layer entry ${q(e.name)} is nested ${depth} directories deep; tsrun unpacks at most ${MAX_DEPTH} levels`);
    }
    if (this.root.length + 1 + rel.length >= PATH_MAX) {
      throw badLayer(`layer entry ${q(e.name)} makes a path of ${this.root.length + 1 + rel.length} bytes, longer than PATH_MAX (${PATH_MAX})`);
    }
    checkOwner(e);
    try {
      return this.entryAt(e, rel);
    } catch (err) {
      if (isTsrunError(err)) throw err;
      throw syscallError(`unpacking layer entry ${q(e.name)}`, err);
    }
  }

  private entryAt(e: TarEntry, rel: string): TarDataSink | null {
    const parent = parentOf(rel);
    const base = rel.slice(parent === '' ? 0 : parent.length + 1);
    // a parent part that starts with .wh. (checked in detail only when the parent holds one)
    if (parent !== '' && (parent.startsWith(WH_PREFIX) || parent.includes('/' + WH_PREFIX))) {
      const top = parent.split('/', 1)[0]!;
      // AUFS metadata at the root (.wh..wh.plnk/…, .wh..wh.aufs): docker skips it, keeping plnk files as hardlink sources
      if (top.startsWith(WH_META_PREFIX)) return top === AUFS_PLNK && parent === AUFS_PLNK && e.type === 'file' ? this.aufsFile(e, rel) : null;
      for (const part of parent.split('/')) {
        if (part.startsWith(WH_PREFIX)) throw badLayer(`layer entry ${q(e.name)} is under a whiteout name (${q(part)})`);
      }
    }
    if (base.startsWith(WH_PREFIX)) return this.whiteout(e, rel, parent, base);

    if (this.seen.has(rel)) {
      if (e.type === 'dir' && this.dirEntries.has(rel)) {
        this.dirMeta(e, rel); // a directory listed again: the later metadata wins, as containerd applies it
        return null;
      }
      throw badLayer(`duplicate layer entry ${q(e.name)}`);
    }
    this.seen.add(rel);
    if (e.type !== 'dir' && this.ancestors.has(rel)) {
      throw badLayer(`layer entry ${q(e.name)} replaces a directory that holds earlier entries of the layer`);
    }
    if (rel === '') {
      if (e.type !== 'dir') throw badLayer(`layer entry ${q(e.name)} names the root but is not a directory`);
      this.dirMeta(e, rel);
      return null;
    }
    this.addAncestors(parent);
    this.ensureDir(parent, e.name, true);
    const abs = this.abs(rel);

    switch (e.type) {
      case 'file':
        return this.file(e, rel, abs);
      case 'dir': {
        this.tryCreate(() => fs.mkdirSync(B(abs), 0o700), abs, true); // an existing directory is kept: the entry updates its metadata
        this.dirs.add(rel);
        this.dirEntries.add(rel);
        this.dirMeta(e, rel);
        return null;
      }
      case 'symlink':
        if (e.linkname === '' || e.linkname.includes('\0')) throw badLayer(`symlink ${q(e.name)} has an empty or invalid target`);
        this.tryCreate(() => fs.symlinkSync(B(e.linkname), B(abs)), abs, false);
        fs.lchownSync(B(abs), e.uid, e.gid);
        this.xattrs(e, abs);
        this.times(e, abs);
        this.special.add(rel);
        return null;
      case 'link': {
        let target: string;
        try {
          target = cleanMemberName(e.linkname);
        } catch {
          throw unsafePath(`hardlink ${q(e.name)} points outside the layer: ${q(e.linkname)}`);
        }
        if (this.special.has(target)) {
          // a hardlink to a symlink, device or fifo: link(2) links that inode itself, as containerd's os.Link does
          this.tryCreate(() => fs.linkSync(B(this.abs(target)), B(abs)), abs, false);
          this.special.add(rel);
          return null;
        }
        const job = this.regular.get(target);
        if (!job) return this.lowerLinks.add(e, rel, target);
        // the target may still be being created: link once it exists (its data and metadata follow the inode)
        const name = e.name;
        this.files.after(job, () => {
          try {
            this.tryCreate(() => fs.linkSync(job.abs, B(abs)), abs, false); // job.abs: the target's path as bytes
          } catch (err) {
            throw isTsrunError(err) ? err : syscallError(`unpacking layer entry ${q(name)}`, err);
          }
        });
        this.regular.set(rel, job);
        return null; // the inode's metadata came with its first entry
      }
      case 'char':
      case 'block':
      case 'fifo': {
        const fmt = e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO;
        const major = e.type === 'fifo' ? 0 : e.devmajor;
        const minor = e.type === 'fifo' ? 0 : e.devminor;
        this.tryCreate(() => this.native().mknod(B(abs), fmt | (e.mode & 0o777), major, minor), abs, false);
        fs.lchownSync(B(abs), e.uid, e.gid);
        fs.chmodSync(B(abs), e.mode);
        this.xattrs(e, abs);
        this.times(e, abs);
        this.special.add(rel);
        return null;
      }
    }
  }

  private file(e: TarEntry, rel: string, abs: string): TarDataSink {
    this.bytes += e.size;
    if (this.bytes > this.maxBytes) {
      throw new TsrunError('TOO_LARGE', `layer holds more than ${this.maxBytes} bytes of files (at ${q(e.name)})`, {
        hint: 'the layer is malformed or hostile (a tar bomb)',
      });
    }
    const [atime, mtime] = this.timesOf(e);
    const sparseSize = e.sparse ? e.size : undefined;
    const job = this.files.add(abs, e.name, e.size, { uid: e.uid, gid: e.gid, mode: e.mode, atime, mtime, sparseSize }, {
      recreate: (p) => {
        let fd = -1;
        this.tryCreate(() => (fd = fs.openSync(p, CREATE_FLAGS, 0o600)), abs, false);
        return fd;
      },
      after: e.xattrs.size ? () => this.xattrs(e, abs) : undefined,
    });
    this.regular.set(rel, job);
    return job;
  }

  /**
   * Run create(); on EEXIST remove what is there (something from before this
   * layer: names of this layer are unique and its ancestors are kept) and try
   * again. With wantDir, an existing directory is kept and false is returned.
   */
  tryCreate(create: () => void, abs: string, wantDir: boolean): boolean {
    try {
      create();
      return true;
    } catch (err) {
      if (!hasCode(err, 'EEXIST')) throw err;
    }
    const st = fs.lstatSync(B(abs));
    if (st.isDirectory()) {
      if (wantDir) return false;
      removeTree(B(abs));
    } else {
      fs.unlinkSync(B(abs));
    }
    create();
    return true;
  }

  private addAncestors(dir: string): void {
    while (dir !== '' && !this.ancestors.has(dir)) {
      this.ancestors.add(dir);
      dir = parentOf(dir);
    }
  }

  /**
   * Make sure `rel` is a real directory, walking from the root with lstat:
   * a symlink on the way is refused (never followed), a missing one is created
   * 0755 root:root when `create`, else false is returned.
   */
  private ensureDir(rel: string, entryName: string, create: boolean): boolean {
    if (this.dirs.has(rel)) return true;
    // the missing part of the chain, nearest the root first (a loop: the chain can be long)
    const chain: string[] = [];
    for (let d = rel; !this.dirs.has(d); d = parentOf(d)) chain.push(d);
    for (let i = chain.length - 1; i >= 0; i--) {
      const dir = chain[i]!;
      // a regular file of this layer may not exist on disk yet (it is written concurrently)
      if (this.regular.has(dir) || this.lowerLinks.has(dir)) throw badLayer(`layer entry ${q(entryName)} has a parent that is not a directory (${q(dir)})`);
      const abs = B(this.abs(dir));
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(abs);
      } catch (err) {
        if (!hasCode(err, 'ENOENT')) throw err;
      }
      if (!st) {
        if (!create) return false;
        fs.mkdirSync(abs, 0o755);
        fs.chmodSync(abs, 0o755); // whatever the umask
      } else if (st.isSymbolicLink()) {
        throw unsafePath(`layer entry ${q(entryName)} has a parent that is a symlink (${q(dir)})`);
      } else if (!st.isDirectory()) {
        throw badLayer(`layer entry ${q(entryName)} has a parent that is not a directory (${q(dir)})`);
      }
      this.dirs.add(dir);
    }
    return true;
  }

  /** A regular file under a root-level .wh..wh.plnk: kept aside as the source of hardlinks to it, not in the layer. */
  private aufsFile(e: TarEntry, rel: string): TarDataSink {
    if (this.regular.has(rel)) throw badLayer(`duplicate layer entry ${q(e.name)}`);
    if (this.aufsStore === undefined) {
      this.aufsStore = `.tsrun-aufs-${randomHex(6)}`;
      fs.mkdirSync(B(this.abs(this.aufsStore)), 0o700);
      this.seen.add(this.aufsStore); // no entry of the layer may use the name
      this.ancestors.add(this.aufsStore);
    }
    const abs = this.abs(this.aufsStore + '/' + rel.slice(AUFS_PLNK.length + 1));
    return this.file(e, rel, abs);
  }

  /** Remove the AUFS hardlink store: the links made from it keep their inodes. */
  dropAufsStore(): void {
    if (this.aufsStore !== undefined) removeTree(B(this.abs(this.aufsStore)));
  }

  private whiteout(e: TarEntry, rel: string, parent: string, base: string): null {
    if (base === WH_PREFIX) throw badLayer(`layer entry ${q(e.name)} is a bare whiteout (no name after .wh.)`);
    if (base === WH_OPAQUE) {
      if (this.seen.has(rel)) throw badLayer(`duplicate layer entry ${q(e.name)}`);
      this.seen.add(rel);
      this.addAncestors(parent);
      this.ensureDir(parent, e.name, true);
      this.opaque.add(parent);
      if (this.mode === 'overlay') {
        this.native().lsetxattr(B(this.abs(parent)), OVERLAY_OPAQUE, Buffer.from('y'), 0);
      } else {
        this.clearLower(parent);
      }
      return null;
    }
    if (base.startsWith(WH_META_PREFIX)) return null; // other AUFS metadata (.wh..wh.aufs, .wh..wh.plnk …): ignored, as docker and containerd do
    const name = base.slice(WH_PREFIX.length);
    if (name === '.' || name === '..') throw unsafePath(`whiteout ${q(e.name)} names ${q(name)}`);
    const target = parent === '' ? name : parent + '/' + name;
    if (this.seen.has(target)) throw badLayer(`duplicate layer entry ${q(e.name)} (its name is used by another entry)`);
    if (this.ancestors.has(target)) throw badLayer(`whiteout ${q(e.name)} hides a directory that holds earlier entries of the layer`);
    this.seen.add(target);
    this.addAncestors(parent);
    const abs = this.abs(target);
    if (this.mode === 'overlay') {
      this.ensureDir(parent, e.name, true);
      this.tryCreate(() => this.native().mknod(B(abs), S_IFCHR, 0, 0), abs, false);
      fs.lchownSync(B(abs), e.uid, e.gid);
    } else if (this.ensureDir(parent, e.name, false)) {
      removeTree(B(abs));
    }
    return null;
  }

  /** Opaque dir in 'apply' mode: remove what `rel` held before this layer (a loop over the kept subdirectories, no recursion). */
  private clearLower(rel: string): void {
    const todo = [rel];
    while (todo.length) {
      const dir = todo.pop()!;
      const abs = this.abs(dir);
      for (const nameBuf of fs.readdirSync(B(abs), { encoding: 'buffer' })) {
        const name = nameBuf.toString('latin1');
        const child = dir === '' ? name : dir + '/' + name;
        if (this.seen.has(child) || this.ancestors.has(child)) {
          if (fs.lstatSync(B(abs + '/' + name)).isDirectory()) todo.push(child);
        } else {
          removeTree(B(abs + '/' + name));
        }
      }
    }
  }

  private dirMeta(e: TarEntry, rel: string): void {
    const abs = this.abs(rel);
    fs.lchownSync(B(abs), e.uid, e.gid);
    fs.chmodSync(B(abs), e.mode);
    this.xattrs(e, abs);
    const [atime, mtime] = this.timesOf(e);
    this.dirTimes.push({ abs, depth: rel === '' ? -1 : depth(rel), atime, mtime });
  }

  private xattrs(e: TarEntry, abs: string): void {
    if (e.xattrs.size === 0) return;
    for (const [name, value] of e.xattrs) {
      if (name.startsWith('trusted.overlay.')) continue; // only apply writes overlay metadata
      try {
        this.native().lsetxattr(B(abs), name, value, 0);
      } catch (err) {
        // as docker: a filesystem without xattrs (or without this namespace) is not an error
        if (hasCode(err, 'ENOTSUP') || hasCode(err, 'EOPNOTSUPP') || hasCode(err, 'EPERM')) continue;
        throw syscallError(`setting xattr ${name} on layer entry ${q(e.name)}`, err);
      }
    }
  }

  private timesOf(e: TarEntry): [number, number] {
    let mtime = unixTime(e.mtime);
    let atime = e.atime !== undefined && unixTime(e.atime) > mtime ? unixTime(e.atime) : mtime;
    if (this.clamp !== undefined) {
      if (mtime > this.clamp) mtime = this.clamp;
      if (atime > this.clamp) atime = this.clamp;
    }
    return [atime, mtime];
  }

  private times(e: TarEntry, abs: string): void {
    const [atime, mtime] = this.timesOf(e);
    fs.lutimesSync(B(abs), atime, mtime);
  }

  /** Directory mtimes last, deepest first, so that creating their children does not change them. */
  finish(): void {
    this.dirTimes.sort((a, b) => b.depth - a.depth);
    for (const d of this.dirTimes) {
      try {
        fs.lutimesSync(B(d.abs), d.atime, d.mtime);
      } catch (err) {
        throw syscallError(`setting the mtime of ${q(d.abs)}`, err);
      }
    }
  }
}
