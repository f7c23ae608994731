/**
 * COPY's sources: which files of the context (or of another stage's filesystem) a COPY
 * selects, where each lands in the image, and the content checksum of exactly those files
 * (names, types, modes, owners, sizes, contents or link targets; never mtimes). Paths that
 * leave the context, symlinks in the context that point outside it, and sources the
 * .dockerignore excludes are refused with the instruction's file:line. `--exclude` patterns
 * drop files (matched against the path below each source, and a glob's matches against
 * their path in the root); `--parents` keeps each source's path below the destination.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { native } from '../../native.js';
import { hasCode } from '../../util/errors.js';
import { dockerfileError } from './errors.js';
import { Pattern, PatternMatcher, cleanPath } from './pattern-matcher.js';
import type { BuildCache } from './build-cache.js';
import { readDirEntries, type EntryStat } from './walk-stat.js';

export interface CopyRoot {
  dir: string;
  /** The build context: .dockerignore applies and nothing may point outside it. */
  context: boolean;
  ignore?: PatternMatcher;
}

export interface Selected {
  abs: string;
  st: EntryStat;
  /** Absolute path in the image. */
  target: string;
  /** ADD: a source file named directly (not inside a copied directory): the directory it is unpacked into when it is a tar. */
  unpack?: string;
  /** Its xattrs, once selectionChecksum or the layer writer has read them (the other then need not read them again). */
  xattrs?: [string, Buffer][];
}

export interface SelectOptions {
  /** Sources of the instruction in all (heredocs and URLs count): more than one makes DEST a directory. */
  total?: number;
  /** --exclude patterns. */
  exclude?: readonly string[];
  /** --parents: keep the source's path (below a `/./` pivot, if any) under DEST. */
  parents?: boolean;
  /** ADD: mark directly named files for unpacking. */
  add?: boolean;
}

interface Where {
  file: string;
  line: number;
}

/** Shared by every entry the listing saw without xattrs (never modified: readers only iterate). */
const NO_XATTRS: [string, Buffer][] = [];

const isGlob = (s: string) => /[*?[]/.test(s);

/** root.dir with one trailing slash: names below it are appended, not path.join'ed (10,000 joins cost ~0.1 s). */
const dirPrefix = (root: CopyRoot) => (root.dir.endsWith('/') ? root.dir : root.dir + '/');

/**
 * `skip(rel)` drops an entry with everything below it (a --exclude match). `fn` gets the
 * entry's absolute path too, and `noXattrs` when the listing saw it has none.
 */
function walk(root: CopyRoot, relDir: string, fn: (rel: string, st: EntryStat, abs: string, noXattrs: boolean) => void, skip?: (rel: string) => boolean): void {
  const base = dirPrefix(root);
  for (const e of readDirEntries(base + relDir)) {
    const rel = relDir ? `${relDir}/${e.name}` : e.name;
    if (root.ignore?.excludes(rel) || skip?.(rel)) continue;
    fn(rel, e.st, base + rel, e.xattrs === false);
    if (e.st.isDirectory()) walk(root, rel, fn, skip);
  }
}

function checkLink(root: CopyRoot, rel: string, w: Where, shown: string): void {
  if (!root.context) return;
  const target = fs.readlinkSync(path.join(root.dir, rel));
  // relative to the context (no leading slash): normalize keeps the '..' that climb out of it
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(rel), target));
  if (target.startsWith('/') || resolved === '..' || resolved.startsWith('../')) {
    throw dockerfileError(w.file, w.line, `COPY ${shown}: the symlink ${rel} -> ${target} points outside the build context`, 'copy the file it points to into the context instead');
  }
}

/** The files one COPY selects, in a stable order. */
export function selectCopy(root: CopyRoot, sources: readonly string[], dest: string, w: Where, o: SelectOptions = {}): Selected[] {
  const out: Selected[] = [];
  const total = o.total ?? sources.length;
  const destIsDir = dest.endsWith('/') || total > 1 || sources.some(isGlob) || !!o.parents;
  const destDir = dest.endsWith('/') ? dest : dest + '/';
  if (destIsDir && !dest.endsWith('/') && total > 1) {
    throw dockerfileError(w.file, w.line, `When using COPY with more than one source file, the destination must be a directory and end with a /`);
  }
  let excludes: PatternMatcher | undefined;
  try {
    excludes = o.exclude?.length ? new PatternMatcher(o.exclude) : undefined;
  } catch (e) {
    throw dockerfileError(w.file, w.line, `--exclude: ${(e as Error).message}`);
  }
  const addTree = (rel: string, st: EntryStat, target: string, shown: string, direct: boolean) => {
    if (st.isSymbolicLink()) checkLink(root, rel, w, shown);
    if (!st.isDirectory()) {
      out.push({ abs: path.join(root.dir, rel), st, target, ...(o.add && direct && st.isFile() ? { unpack: destIsDir ? destDir : dest } : {}) });
      return;
    }
    // a directory: its contents go into the target directory
    out.push({ abs: path.join(root.dir, rel), st, target });
    const below = (sub: string) => sub.slice(rel.length + (rel ? 1 : 0));
    // entries below it: the target dir (normalized once) and a clean relative name, appended
    const into = path.posix.normalize(target).replace(/\/?$/, '/');
    walk(
      root,
      rel,
      (sub, sst, abs, noXattrs) => {
        if (sst.isSymbolicLink()) checkLink(root, sub, w, shown);
        out.push({ abs, st: sst, target: into + below(sub), xattrs: noXattrs ? NO_XATTRS : undefined });
      },
      excludes && ((sub) => excludes!.excludes(below(sub))),
    );
  };
  for (const src of sources) {
    const clean = path.posix.normalize('/' + src).slice(1).replace(/\/$/, '');
    if (path.posix.normalize(src).startsWith('../') || path.posix.normalize(src) === '..') {
      throw dockerfileError(w.file, w.line, `COPY ${src}: forbidden path outside the build context`, 'a COPY source is a path inside the context');
    }
    const matches: string[] = [];
    if (isGlob(clean)) {
      const p = new Pattern(clean);
      walk(root, '', (rel) => {
        if (p.matches(rel) && !excludes?.excludes(rel)) matches.push(rel);
      });
    } else {
      const excluded = clean !== '' && root.ignore?.excludes(clean);
      const exists = fs.existsSync(path.join(root.dir, clean)) || isLink(path.join(root.dir, clean));
      if (excluded && exists) {
        throw dockerfileError(w.file, w.line, `COPY ${src}: "/${clean}" is excluded by .dockerignore`, 'remove it from .dockerignore or do not copy it');
      }
      if (exists) matches.push(clean);
    }
    if (!matches.length) {
      throw dockerfileError(w.file, w.line, `failed to compute cache key: "/${clean}": not found`, root.context ? 'the path is relative to the build context' : 'the path is in the stage named by --from');
    }
    for (const rel of matches) {
      if (root.context) {
        const real = fs.realpathSync(path.join(root.dir, rel));
        const top = fs.realpathSync(root.dir);
        if (real !== top && !real.startsWith(top + '/')) {
          throw dockerfileError(w.file, w.line, `COPY ${src}: "${rel}" resolves outside the build context`, 'a COPY source must stay inside the context');
        }
      }
      const st = fs.lstatSync(path.join(root.dir, rel), { bigint: true });
      let target: string;
      if (o.parents) {
        // BuildKit: the path from the context root, or from a `/./` pivot in the source
        const pivot = src.indexOf('/./');
        const base = pivot >= 0 ? cleanPath(src.slice(0, pivot)).replace(/^\/+/, '').replace(/^\.$/, '') : '';
        const kept = base && (rel === base || rel.startsWith(base + '/')) ? rel.slice(base.length).replace(/^\//, '') : rel;
        target = path.posix.join(destDir, kept) || '/';
      } else target = st.isDirectory() ? dest.replace(/\/$/, '') || '/' : destIsDir ? destDir + path.posix.basename(rel || '.') : dest;
      addTree(rel, st, target, src, true);
    }
  }
  return out;
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The checksum of exactly the selected files: no mtimes, contents via the stat-keyed cache. Keeps each one's xattrs on it. */
export function selectionChecksum(sel: readonly Selected[], cache: BuildCache): string {
  const h = crypto.createHash('sha256');
  // the same bytes as one update per field, handed over a few hundred entries at a time (fewer native calls)
  let text = '';
  for (const s of sel) {
    const st = s.st;
    let body = '';
    if (st.isFile()) body = cache.fileSum(s.abs, st);
    else if (st.isSymbolicLink()) body = fs.readlinkSync(s.abs);
    text += `${s.target}\0${st.mode}\0${st.uid}:${st.gid}\0${st.isFile() ? st.size : 0}\0${body}\0${s.unpack ?? ''}\0`;
    s.xattrs ??= readXattrs(s.abs);
    for (const [name, value] of s.xattrs) text += `${name}=${value.toString('base64')}\0`;
    text += '\n';
    if (text.length > 1 << 16) {
      h.update(text);
      text = '';
    }
  }
  h.update(text);
  return h.digest('hex');
}

/** A file's extended attributes (sorted; overlay's own trusted.overlay.* left out), as COPY keeps them. */
export function readXattrs(abs: string): [string, Buffer][] {
  let names: string[];
  try {
    names = native().llistxattr(abs);
  } catch (err) {
    if (hasCode(err, 'ENOTSUP') || hasCode(err, 'EOPNOTSUPP')) return [];
    throw err;
  }
  const out: [string, Buffer][] = [];
  for (const name of names.sort()) {
    if (name.startsWith('trusted.overlay.')) continue;
    const v = native().lgetxattr(abs, name);
    if (v) out.push([name, v]);
  }
  return out;
}
