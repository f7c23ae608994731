/**
 * COPY's layer written straight from the source files: the tar entries (targets, owners,
 * modes, mtimes, xattrs, the parent directories the image has or lacks) are worked out
 * in memory, then each source file is read once, by the addon, into the layer. No
 * staging copy: a 100 MB / 10,000-file COPY used to write every file twice more (the
 * copy, then the layer), and creating 10,000 fresh inodes right after removing the last
 * staging tree is slow on ext4. Entries come out in the order commit's walker gives
 * (depth first, names sorted), so the same selection gives the same bytes.
 */
import fs from 'node:fs';
import type { Ctx } from '../../context.js';
import { BLOCK, TarWriter } from '../../diff/tar-writer.js';
import { native } from '../../native.js';
import { errnoError, syscallError } from '../../util/errors.js';
import type { LayerTemps } from '../commit-layer.js';
import { readXattrs, type Selected } from './copy-select.js';
import type { EntryStat } from './walk-stat.js';
import { lowerLstat } from './build-layers.js';

export interface DirectCopyOptions {
  /** --chown (root without it). */
  owner?: { uid: number; gid: number };
  /** --chmod. */
  chmod?: number;
  /** SOURCE_DATE_EPOCH / --timestamp: later mtimes become this (Unix seconds). */
  clampMtime?: number;
}

interface Entry {
  type: 'dir' | 'file' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  /** The source to read (file) or to take xattrs from. */
  src?: string;
  /** The source's xattrs (read once: the selection's checksum uses them too). */
  xattrs?: [string, Buffer][];
  linkname?: string;
  /** A file's stat as the selection saw it: its checksum is recorded only when the file is still that. */
  st?: EntryStat;
}

/** Where the checksums of the files the writer copies go (the build cache's stat-keyed file sums). */
export interface SumSink {
  /** Is this file's checksum still unknown (worth hashing its bytes as they are copied)? */
  need(abs: string, st: EntryStat): boolean;
  put(abs: string, st: EntryStat, sha256: string): void;
}

/** The source's xattrs, as COPY's checksum reads them (overlay's own left out). */
function sourceXattrs(e: Entry): Map<string, Buffer> | undefined {
  const x = e.xattrs ?? (e.src ? readXattrs(e.src) : []);
  return x.length ? new Map(x) : undefined;
}

/**
 * `rels` depth first, names sorted: a/b before a/b/c before a/c, as a sorted directory walk.
 * That is the order of the paths compared with each '/' made the lowest character (a name
 * has neither '/' nor NUL): 10,000 paths sorted without splitting them at every comparison.
 */
function inWalkOrder(rels: Iterable<string>): string[] {
  const keyed = [...rels].map((rel) => [rel.replaceAll('/', '\0'), rel] as const);
  keyed.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  return keyed.map((x) => x[1]);
}

/** Without leading and trailing slashes ('/app/x/' → 'app/x'); two regex replaces per entry cost a 10,000-file COPY ~10 ms. */
function trimSlashes(p: string): string {
  let a = 0;
  let b = p.length;
  while (a < b && p.charCodeAt(a) === 47) a++;
  while (b > a && p.charCodeAt(b - 1) === 47) b--;
  return a === 0 && b === p.length ? p : p.slice(a, b);
}

/** The tar entries of a COPY: what each selected source becomes, and the parents on the way. */
export function copyEntries(sel: readonly Selected[], imageDirs: readonly string[], o: DirectCopyOptions, now = Math.floor(Date.now() / 1000)): Map<string, Entry> {
  const own = o.owner ?? { uid: 0, gid: 0 };
  const entries = new Map<string, Entry>();
  const parents = (rel: string) => {
    // a parent already entered as a directory had its own parents entered with it
    const slash = rel.lastIndexOf('/');
    if (slash < 0 || entries.get(rel.slice(0, slash))?.type === 'dir') return;
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const r = parts.slice(0, i).join('/');
      if (entries.get(r)?.type === 'dir') continue;
      // a parent the image has keeps its owner, mode and time; a new one is the COPY's owner's 0755
      const lower = lowerLstat(imageDirs, r);
      const st = lower?.st.isDirectory() ? lower.st : undefined;
      entries.set(r, { type: 'dir', mode: st ? st.mode & 0o7777 : 0o755, uid: st?.uid ?? own.uid, gid: st?.gid ?? own.gid, mtime: st ? Math.floor(st.mtimeMs / 1000) : now });
    }
  };
  const replace = (rel: string, e: Entry) => {
    const old = entries.get(rel);
    // a file over a directory (or the reverse) takes its whole place
    if (old && old.type === 'dir' && e.type !== 'dir') for (const k of [...entries.keys()]) if (k.startsWith(rel + '/')) entries.delete(k);
    entries.set(rel, e);
  };
  for (const s of sel) {
    const rel = trimSlashes(s.target);
    const st = s.st;
    const mtime = Number(st.mtimeMs / 1000n);
    if (st.isDirectory()) {
      if (!rel) continue;
      parents(rel);
      replace(rel, { type: 'dir', mode: o.chmod ?? Number(st.mode & 0o7777n), uid: own.uid, gid: own.gid, mtime, src: s.abs, xattrs: (s.xattrs ??= readXattrs(s.abs)) });
    } else if (st.isSymbolicLink()) {
      parents(rel);
      replace(rel, { type: 'symlink', mode: 0o777, uid: own.uid, gid: own.gid, mtime, src: s.abs, xattrs: (s.xattrs ??= readXattrs(s.abs)), linkname: fs.readlinkSync(s.abs) });
    } else if (st.isFile()) {
      parents(rel);
      replace(rel, { type: 'file', mode: o.chmod ?? Number(st.mode & 0o7777n), uid: own.uid, gid: own.gid, mtime, src: s.abs, xattrs: (s.xattrs ??= readXattrs(s.abs)), st });
    }
    // sockets, fifos and devices in a context are skipped, as BuildKit's copy does for sockets
  }
  return entries;
}

/**
 * Write the layer of `entries` to a content-store temp file (the caller adopts it). The
 * headers are made here by commit's TarWriter; the file data is read, hashed and written
 * by the addon (native/addon/tarfiles.c) on two threads, the JS thread idle meanwhile:
 * per-file opens, reads and hashing from JS cost a 10,000-file COPY about as much as the
 * whole of `tar -c | sha256sum`. With `sums`, each file's sha256 is worked out from the
 * bytes as they are copied (one read for both: the cache key's checksum and the layer)
 * and handed over when the file is still what the selection saw (as many bytes read as
 * its stat said; a file that shrank is padded with zeros, one that grew cut, as tar does).
 */
export async function writeEntriesLayer(ctx: Ctx, entries: Map<string, Entry>, clampMtime?: number, sums?: SumSink): Promise<LayerTemps> {
  const chunks: Buffer[] = [];
  // the sink keeps each chunk, so TarWriter allocates a fresh buffer after each
  const tar = new TarWriter((chunk) => void chunks.push(chunk), 1 << 20);
  const files: { e: Entry; size: number; want: boolean }[] = [];
  const offsets: number[] = [];
  let paths = '';
  let count = 0;
  let contentBytes = 0;
  for (const rel of inWalkOrder(entries.keys())) {
    const e = entries.get(rel)!;
    const mtime = clampMtime !== undefined && e.mtime > clampMtime ? clampMtime : e.mtime;
    // the size the selection saw: no fstat per file
    const size = e.type === 'file' ? (e.st ? Number(e.st.size) : fs.lstatSync(e.src!).size) : 0;
    tar.header({ name: rel, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, size, mtime, linkname: e.linkname, xattrs: sourceXattrs(e) });
    count++;
    if (e.type !== 'file') continue;
    files.push({ e, size, want: !!(sums && e.st && sums.need(e.src!, e.st)) });
    offsets.push(tar.written); // the file's data goes right after its header
    paths += e.src! + '\0';
    contentBytes += size;
  }
  tar.finish();
  const headers = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  const meta = new Float64Array(files.length * 3);
  files.forEach((f, i) => {
    meta[i * 3] = offsets[i]!;
    meta[i * 3 + 1] = f.size;
    meta[i * 3 + 2] = f.want ? 1 : 0;
  });

  const blobTmp = ctx.content.tempPath();
  const fd = fs.openSync(blobTmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
  let done = false;
  try {
    const out = await new Promise<{ digest: string; got: Float64Array; sums: Buffer }>((resolve, reject) => {
      native().tarFiles(fd, headers, Buffer.from(paths, 'utf8'), meta, (failure, digest, got, fileSums) => {
        if (!failure) return resolve({ digest: digest!, got: got!, sums: fileSums! });
        const [index, errno, step] = failure;
        const syscall = (['open', 'read', 'write'] as const)[step!] ?? 'write';
        const err = errnoError(errno!, syscall);
        reject(index! < 0 ? syscallError('writing the layer blob', err) : syscallError(`COPY: cannot read ${files[index!]!.e.src}`, err));
      });
    });
    files.forEach((f, i) => {
      if (f.want && out.got[i] === f.size) sums!.put(f.e.src!, f.e.st!, out.sums.toString('hex', i * 32, i * 32 + 32));
    });
    const digest = `sha256:${out.digest}`;
    // a layer the store already holds (the same COPY again) needs no sync
    if (!ctx.content.has(digest)) fs.fdatasyncSync(fd);
    let size = headers.length;
    for (const f of files) size += f.size + ((BLOCK - (f.size % BLOCK)) % BLOCK);
    done = true;
    return { blobTmp, result: { entries: count, contentBytes, diffId: digest, size } };
  } finally {
    fs.closeSync(fd);
    if (!done) fs.rmSync(blobTmp, { force: true });
  }
}
