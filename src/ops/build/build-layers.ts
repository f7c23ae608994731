/**
 * Layers a build writes without a container: COPY's files and WORKDIR's directory. The
 * files are laid out in a staging tree (dest path, owners, modes, mtimes as they will be
 * in the image) and that tree goes through commit's layer writer in 'plain' mode. Parent
 * directories that already exist in the image keep their owner and mode in the layer.
 * The image's files are read from its layer dirs (topmost first): `lowerLstat`.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Ctx } from '../../context.js';
import { writeLayerFile } from '../../diff/compare.js';
import type { LayerTemps } from '../commit-layer.js';
import { native } from '../../native.js';
import { readXattrs, type Selected } from './copy-select.js';
import { LineError } from './errors.js';
import { copyEntries, writeEntriesLayer, type SumSink } from './copy-layer-direct.js';
import { archiveCompression, unpackArchive } from './add-archive.js';

/** The image's entry at `rel` (no leading slash), looking through its layers topmost first. */
export function lowerLstat(lowers: readonly string[], rel: string): { dir: string; st: fs.Stats } | undefined {
  for (const dir of lowers) {
    try {
      return { dir, st: fs.lstatSync(path.join(dir, rel)) };
    } catch {
      /* not in this layer */
    }
    try {
      fs.lstatSync(path.join(dir, path.dirname(rel), '.wh.' + path.basename(rel)));
      return undefined;
    } catch {
      /* no whiteout either */
    }
  }
  return undefined;
}

function lowerRead(lowers: readonly string[], rel: string): string {
  const f = lowerLstat(lowers, rel);
  if (!f || !f.st.isFile()) return '';
  return fs.readFileSync(path.join(f.dir, rel), 'utf8');
}

/** USER-style `user[:group]` → numeric ids, names looked up in the image's /etc/passwd and /etc/group. */
export function resolveOwner(spec: string, lowers: readonly string[]): { uid: number; gid: number } {
  const [u, g] = spec.split(':') as [string, string | undefined];
  const passwd = lowerRead(lowers, 'etc/passwd').split('\n').map((l) => l.split(':'));
  let uid: number;
  let gid = 0;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const row = passwd.find((r) => r[2] === u);
    if (row) gid = Number(row[3]);
  } else {
    const row = passwd.find((r) => r[0] === u);
    if (!row) throw new LineError(`unable to find user ${u}: no matching entries in passwd file`);
    uid = Number(row[2]);
    gid = Number(row[3]);
  }
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const row = lowerRead(lowers, 'etc/group').split('\n').map((l) => l.split(':')).find((r) => r[0] === g);
      if (!row) throw new LineError(`unable to find group ${g}: no matching entries in group file`);
      gid = Number(row[2]);
    }
  }
  return { uid, gid };
}

async function withStaging<T>(ctx: Ctx, fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = path.join(ctx.tmpDir, `${process.pid}-build-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(dir, { mode: 0o755 });
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function copyXattrs(from: string, to: string): void {
  for (const [name, value] of readXattrs(from)) native().lsetxattr(to, name, value, 0);
}

/** --chown over an unpacked archive: every entry below `dir` (lchown: links themselves). */
function chownTree(dir: string, own: { uid: number; gid: number }): void {
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    fs.lchownSync(p, own.uid, own.gid);
    if (fs.lstatSync(p).isDirectory()) chownTree(p, own);
  }
}

/** mkdir -p of `rel` in the staging tree; each parent takes the image's owner and mode, or `fresh`. */
function stageParents(stage: string, rel: string, lowers: readonly string[], fresh: { uid: number; gid: number; mode: number }): void {
  const parts = rel.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const r = parts.slice(0, i).join('/');
    const p = path.join(stage, r);
    if (fs.existsSync(p)) continue;
    fs.mkdirSync(p);
    const lower = lowerLstat(lowers, r);
    const st = lower?.st.isDirectory() ? lower.st : undefined;
    fs.chownSync(p, st?.uid ?? fresh.uid, st?.gid ?? fresh.gid);
    fs.chmodSync(p, (st?.mode ?? fresh.mode) & 0o7777);
    if (st) fs.utimesSync(p, st.atime, st.mtime);
  }
}

function layerOf(ctx: Ctx, stage: string, clampMtime?: number): LayerTemps {
  const blobTmp = ctx.content.tempPath();
  try {
    const result = writeLayerFile(stage, blobTmp, { mode: 'plain', clampMtime, skipSync: (d) => ctx.content.has(d) });
    return { blobTmp, result };
  } catch (err) {
    fs.rmSync(blobTmp, { force: true });
    throw err;
  }
}

export interface CopyLayerOptions {
  /** --chown (root without it). */
  owner?: { uid: number; gid: number };
  /** --chmod. */
  chmod?: number;
  /** --link: the layer stands alone; new parent directories are root's 0755 whatever the image has. */
  link?: boolean;
  /** SOURCE_DATE_EPOCH / --timestamp: later mtimes become this (Unix seconds). */
  clampMtime?: number;
  /** Take the checksums of the files copied (when the layer is written straight from them). */
  sums?: SumSink;
}

/**
 * COPY's layer: the selected files at their targets, owned by `owner`, `chmod` applied,
 * xattrs kept. An ADD source marked `unpack` that is a tar is unpacked into its directory.
 */
export async function writeCopyLayer(ctx: Ctx, sel: readonly Selected[], lowers: readonly string[], o: CopyLayerOptions = {}): Promise<LayerTemps> {
  const own = o.owner ?? { uid: 0, gid: 0 };
  const chmod = o.chmod;
  const imageDirs = o.link ? [] : lowers;
  // no archive to unpack: the layer is written straight from the sources (copy-layer-direct.ts), no staging copy
  let archives = false;
  for (const s of sel) if (s.unpack !== undefined && (await archiveCompression(s.abs)) !== undefined) archives = true;
  if (!archives) return writeEntriesLayer(ctx, copyEntries(sel, imageDirs, o), o.clampMtime, o.sums);
  return withStaging(ctx, async (stage) => {
    const dirTimes: [string, Date][] = [];
    for (const s of sel) {
      const st = s.st;
      if (s.unpack !== undefined) {
        const c = await archiveCompression(s.abs);
        if (c !== undefined) {
          const rel = s.unpack.replace(/^\/+/, '').replace(/\/+$/, '');
          stageParents(stage, rel, imageDirs, { ...own, mode: 0o755 });
          const into = path.join(stage, rel);
          await unpackArchive(s.abs, c, into);
          // everything below the destination in the staging tree is this step's: --chown takes it all
          if (o.owner) chownTree(into, own);
          continue;
        }
      }
      const rel = s.target.replace(/^\/+/, '');
      const p = path.join(stage, rel);
      if (rel) stageParents(stage, path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel), imageDirs, { ...own, mode: 0o755 });
      const mode = chmod ?? Number(st.mode & 0o7777n);
      if (st.isDirectory()) {
        if (!rel) continue;
        if (!fs.existsSync(p)) fs.mkdirSync(p);
        fs.chmodSync(p, chmod ?? mode);
        fs.chownSync(p, own.uid, own.gid);
        copyXattrs(s.abs, p);
        dirTimes.push([p, new Date(Number(st.mtimeMs))]);
      } else if (st.isSymbolicLink()) {
        fs.rmSync(p, { force: true, recursive: true });
        fs.symlinkSync(fs.readlinkSync(s.abs), p);
        fs.lchownSync(p, own.uid, own.gid);
        copyXattrs(s.abs, p);
      } else if (st.isFile()) {
        fs.rmSync(p, { force: true, recursive: true });
        fs.copyFileSync(s.abs, p, fs.constants.COPYFILE_FICLONE);
        fs.chownSync(p, own.uid, own.gid);
        fs.chmodSync(p, mode);
        copyXattrs(s.abs, p); // after chown: it clears security.capability
        fs.utimesSync(p, new Date(Number(st.atimeMs)), new Date(Number(st.mtimeMs)));
      }
      // sockets, fifos and devices in a context are skipped, as BuildKit's copy does for sockets
    }
    for (const [p, t] of dirTimes.reverse()) fs.utimesSync(p, t, t);
    return layerOf(ctx, stage, o.clampMtime);
  });
}

/** WORKDIR's layer: the missing directories of `dir`, owned by `owner`; undefined when it exists already. */
export async function writeWorkdirLayer(ctx: Ctx, dir: string, lowers: readonly string[], owner: { uid: number; gid: number }, clampMtime?: number): Promise<LayerTemps | undefined> {
  const rel = dir.replace(/^\/+/, '').replace(/\/+$/, '');
  if (!rel || lowerLstat(lowers, rel)?.st.isDirectory()) return undefined;
  return withStaging(ctx, (stage) => {
    stageParents(stage, rel, lowers, { ...owner, mode: 0o755 });
    return layerOf(ctx, stage, clampMtime);
  });
}
