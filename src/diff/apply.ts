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
 * O_NOFOLLOW, hardlinks may only point at regular files unpacked earlier from
 * this same layer, and any name repeated in the layer is refused. Sizes and
 * entry counts are bounded. The caller unpacks into a temp dir and removes it
 * on error, so apply does not clean up after a failure.
 *
 * Metadata kept: numeric owner (lchown), mode with setuid/setgid/sticky (chmod
 * after chown, which clears them), xattrs from pax `SCHILY.xattr.*` (set after
 * chown, which drops security.capability), mtimes (directories last, deepest
 * first, so later entries do not change them). `trusted.overlay.*` xattrs in
 * the tar are dropped: only apply itself writes overlay metadata.
 *
 * Speed: the tar is parsed and checked here, synchronously; regular files are
 * created and written concurrently on libuv's pool (apply-files.ts), since
 * file creation is what unpacking waits on. Directories, symlinks, devices
 * and whiteouts stay synchronous (they are few, and children need them).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { native, type NativeAddon } from '../native.js';
import { TsrunError, invalidArchive, isTsrunError, syscallError, unsafePath, hasCode } from '../util/errors.js';
import { cleanMemberName } from '../util/paths.js';
import { TarReader, type TarDataSink, type TarEntry } from './tarreader.js';
import { ConcurrentFiles, CREATE_FLAGS, type FileJob } from './apply-files.js';

export interface ApplyOptions {
  /** Largest total size of regular-file data (default 64 GiB). */
  maxBytes?: number;
  /** Largest number of entries (default 2,000,000). */
  maxEntries?: number;
  /** Unix seconds: any later mtime/atime in the tar is set to this instead. */
  mtimeClamp?: number;
  /** 'overlay' (default): whiteouts become overlay whiteouts; 'apply': they delete what they name. */
  whiteouts?: 'overlay' | 'apply';
}

export interface ApplyResult {
  /** Entries applied (whiteouts included; pax/long-name headers not). */
  entries: number;
  /** Sum of regular-file sizes. */
  bytes: number;
}

export const DEFAULT_MAX_BYTES = 64 * 1024 ** 3;
export const DEFAULT_MAX_ENTRIES = 2_000_000;

const WH_PREFIX = '.wh.';
const WH_META_PREFIX = '.wh..wh.';
const WH_OPAQUE = '.wh..wh..opq';
const OVERLAY_OPAQUE = 'trusted.overlay.opaque';

const { S_IFCHR, S_IFBLK, S_IFIFO } = fs.constants;

const q = (s: string) => JSON.stringify(s);
const badLayer = (message: string) => invalidArchive(message, 'the layer is malformed or hostile; it was not applied');

function depth(rel: string): number {
  let n = 0;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 47) n++;
  return n;
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

/** Unpack an uncompressed layer tar into destDir (see the module comment). */
export async function applyLayer(tar: Readable, destDir: string, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const files = new ConcurrentFiles();
  const applier = new Applier(destDir, opts, files);
  const reader = new TarReader((e) => applier.entry(e));
  try {
    // read to EOF even after the end marker: the caller may be hashing this stream
    for await (const chunk of tar) {
      reader.push(chunk as Buffer);
      if (files.busy()) await files.wait();
      if (files.error !== undefined) throw files.error;
    }
    reader.finish();
    await files.drain();
    if (files.error !== undefined) throw files.error;
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
  private readonly root: string;
  private readonly maxBytes: number;
  private readonly maxEntries: number;
  private readonly clamp: number | undefined;
  private readonly mode: 'overlay' | 'apply';
  /** Cleaned names of every entry so far (for whiteouts: the name they hide). */
  private readonly seen = new Set<string>();
  /** Every proper parent of an entry so far: never replaced by a later non-directory. */
  private readonly ancestors = new Set<string>();
  /** Paths known to be real directories (not symlinks) in this tree. */
  private readonly dirs = new Set<string>(['']);
  /** Regular files (and hardlinks to them) of this layer: the only valid hardlink targets; the job that writes each. */
  private readonly regular = new Map<string, FileJob>();
  private readonly dirTimes: { abs: string; depth: number; atime: number; mtime: number }[] = [];
  private nat: NativeAddon | undefined;

  constructor(
    destDir: string,
    opts: ApplyOptions,
    private readonly files: ConcurrentFiles,
  ) {
    this.root = path.resolve(destDir);
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.clamp = opts.mtimeClamp;
    this.mode = opts.whiteouts ?? 'overlay';
    let st: fs.Stats;
    try {
      st = fs.statSync(this.root);
    } catch (err) {
      throw syscallError(`layer destination ${this.root}`, err);
    }
    if (!st.isDirectory()) throw new TsrunError('INTERNAL', `layer destination ${this.root} is not a directory`);
  }

  private native(): NativeAddon {
    return (this.nat ??= native());
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : this.root + '/' + rel;
  }

  entry(e: TarEntry): TarDataSink | null {
    if (++this.entries > this.maxEntries) {
      throw new TsrunError('TOO_LARGE', `layer has more than ${this.maxEntries} entries (at ${q(e.name)})`, {
        hint: 'the layer is malformed or hostile (a tar bomb)',
      });
    }
    const rel = cleanMemberName(e.name);
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
    if (parent !== '') {
      for (const part of parent.split('/')) {
        if (part.startsWith(WH_PREFIX)) throw badLayer(`layer entry ${q(e.name)} is under a whiteout name (${q(part)})`);
      }
    }
    if (base.startsWith(WH_PREFIX)) return this.whiteout(e, rel, parent, base);

    if (this.seen.has(rel)) throw badLayer(`duplicate layer entry ${q(e.name)}`);
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
        this.tryCreate(() => fs.mkdirSync(abs, 0o700), abs, true); // an existing directory is kept: the entry updates its metadata
        this.dirs.add(rel);
        this.dirMeta(e, rel);
        return null;
      }
      case 'symlink':
        if (e.linkname === '' || e.linkname.includes('\0')) throw badLayer(`symlink ${q(e.name)} has an empty or invalid target`);
        this.tryCreate(() => fs.symlinkSync(e.linkname, abs), abs, false);
        fs.lchownSync(abs, e.uid, e.gid);
        this.xattrs(e, abs);
        this.times(e, abs);
        return null;
      case 'link': {
        let target: string;
        try {
          target = cleanMemberName(e.linkname);
        } catch {
          throw unsafePath(`hardlink ${q(e.name)} points outside the layer: ${q(e.linkname)}`);
        }
        const job = this.regular.get(target);
        if (!job) {
          throw badLayer(`hardlink ${q(e.name)} points to ${q(e.linkname)}, which is not an earlier regular file of the layer`);
        }
        // the target may still be being created: link once it exists (its data and metadata follow the inode)
        const name = e.name;
        this.files.after(job, () => {
          try {
            this.tryCreate(() => fs.linkSync(job.abs, abs), abs, false);
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
        this.tryCreate(() => this.native().mknod(abs, fmt | (e.mode & 0o777), major, minor), abs, false);
        fs.lchownSync(abs, e.uid, e.gid);
        fs.chmodSync(abs, e.mode);
        this.xattrs(e, abs);
        this.times(e, abs);
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
    const job = this.files.add(abs, e.name, { uid: e.uid, gid: e.gid, mode: e.mode, atime, mtime }, {
      recreate: (p) => {
        let fd = -1;
        this.tryCreate(() => (fd = fs.openSync(p, CREATE_FLAGS, 0o600)), p, false);
        return fd;
      },
      after: (p) => this.xattrs(e, p),
    });
    this.regular.set(rel, job);
    return job;
  }

  /**
   * Run create(); on EEXIST remove what is there (something from before this
   * layer: names of this layer are unique and its ancestors are kept) and try
   * again. With wantDir, an existing directory is kept and false is returned.
   */
  private tryCreate(create: () => void, abs: string, wantDir: boolean): boolean {
    try {
      create();
      return true;
    } catch (err) {
      if (!hasCode(err, 'EEXIST')) throw err;
    }
    const st = fs.lstatSync(abs);
    if (st.isDirectory()) {
      if (wantDir) return false;
      fs.rmSync(abs, { recursive: true, force: true });
    } else {
      fs.unlinkSync(abs);
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
    if (!this.ensureDir(parentOf(rel), entryName, create)) return false;
    // a regular file of this layer may not exist on disk yet (it is written concurrently)
    if (this.regular.has(rel)) throw badLayer(`layer entry ${q(entryName)} has a parent that is not a directory (${q(rel)})`);
    const abs = this.abs(rel);
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
      throw unsafePath(`layer entry ${q(entryName)} has a parent that is a symlink (${q(rel)})`);
    } else if (!st.isDirectory()) {
      throw badLayer(`layer entry ${q(entryName)} has a parent that is not a directory (${q(rel)})`);
    }
    this.dirs.add(rel);
    return true;
  }

  private whiteout(e: TarEntry, rel: string, parent: string, base: string): null {
    if (base === WH_PREFIX) throw badLayer(`layer entry ${q(e.name)} is a bare whiteout (no name after .wh.)`);
    if (base === WH_OPAQUE) {
      if (this.seen.has(rel)) throw badLayer(`duplicate layer entry ${q(e.name)}`);
      this.seen.add(rel);
      this.addAncestors(parent);
      this.ensureDir(parent, e.name, true);
      if (this.mode === 'overlay') {
        this.native().lsetxattr(this.abs(parent), OVERLAY_OPAQUE, Buffer.from('y'), 0);
      } else {
        this.clearLower(parent);
      }
      return null;
    }
    if (base.startsWith(WH_META_PREFIX)) throw badLayer(`layer entry ${q(e.name)}: AUFS metadata (.wh..wh.*) is not supported`);
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
      this.tryCreate(() => this.native().mknod(abs, S_IFCHR, 0, 0), abs, false);
      fs.lchownSync(abs, e.uid, e.gid);
    } else if (this.ensureDir(parent, e.name, false)) {
      fs.rmSync(abs, { recursive: true, force: true });
    }
    return null;
  }

  /** Opaque dir in 'apply' mode: remove what `rel` held before this layer. */
  private clearLower(rel: string): void {
    const abs = this.abs(rel);
    for (const name of fs.readdirSync(abs)) {
      const child = rel === '' ? name : rel + '/' + name;
      if (this.seen.has(child) || this.ancestors.has(child)) {
        const st = fs.lstatSync(abs + '/' + name);
        if (st.isDirectory()) this.clearLower(child);
      } else {
        fs.rmSync(abs + '/' + name, { recursive: true, force: true });
      }
    }
  }

  private dirMeta(e: TarEntry, rel: string): void {
    const abs = this.abs(rel);
    fs.lchownSync(abs, e.uid, e.gid);
    fs.chmodSync(abs, e.mode);
    this.xattrs(e, abs);
    const [atime, mtime] = this.timesOf(e);
    this.dirTimes.push({ abs, depth: rel === '' ? -1 : depth(rel), atime, mtime });
  }

  private xattrs(e: TarEntry, abs: string): void {
    if (e.xattrs.size === 0) return;
    for (const [name, value] of e.xattrs) {
      if (name.startsWith('trusted.overlay.')) continue; // only apply writes overlay metadata
      try {
        this.native().lsetxattr(abs, name, value, 0);
      } catch (err) {
        // as docker: a filesystem without xattrs (or without this namespace) is not an error
        if (hasCode(err, 'ENOTSUP') || hasCode(err, 'EOPNOTSUPP') || hasCode(err, 'EPERM')) continue;
        throw syscallError(`setting xattr ${name} on layer entry ${q(e.name)}`, err);
      }
    }
  }

  private timesOf(e: TarEntry): [number, number] {
    let mtime = e.mtime;
    let atime = e.atime !== undefined && e.atime > mtime ? e.atime : mtime;
    if (this.clamp !== undefined) {
      if (mtime > this.clamp) mtime = this.clamp;
      if (atime > this.clamp) atime = this.clamp;
    }
    return [atime, mtime];
  }

  private times(e: TarEntry, abs: string): void {
    const [atime, mtime] = this.timesOf(e);
    fs.lutimesSync(abs, atime, mtime);
  }

  /** Directory mtimes last, deepest first, so that creating their children does not change them. */
  finish(): void {
    this.dirTimes.sort((a, b) => b.depth - a.depth);
    for (const d of this.dirTimes) {
      try {
        fs.lutimesSync(d.abs, d.atime, d.mtime);
      } catch (err) {
        throw syscallError(`setting the mtime of ${d.abs}`, err);
      }
    }
  }
}
