/**
 * `cp`: docker's rules for where a copy lands (docker's `cp` reference, moby pkg/archive/copy.go):
 *
 * - SRC a file: DEST missing → a file DEST (`DEST/` missing: an error, the directory must exist);
 *   DEST a file → overwritten; DEST a directory → DEST/basename(SRC).
 * - SRC a directory: DEST missing → made, SRC's contents copied in; DEST a file → an error;
 *   DEST a directory → DEST/basename(SRC), or with `SRC/.` SRC's contents into DEST.
 * - `SRC/` or `SRC/.` on a non-directory is an error; the source's last symlink is copied as a
 *   link unless `-L` (or a trailing `/`); a destination symlink is followed (inside its root).
 * - `-`: SRC `-` is a tar on stdin unpacked into the directory DEST; DEST `-` a tar of SRC on stdout.
 * - Owners: with `-a` the source's; without, root in the container and the caller on the host.
 *
 * Container paths resolve inside the container's root (resolve.ts); the host side is walked the
 * same confined way from the directory the user named.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../../context.js';
import type { Container } from '../../containers/record.js';
import { ConfinedDir } from '../../util/confined-dir.js';
import { notFound, TsrunError, usageError } from '../../util/errors.js';
import { withContainerRoot } from './container-root.js';
import { resolveInRoot, type Resolved } from './resolve.js';
import { copyDirContents, copyLeaf, type CopyPolicy } from './copy-tree.js';
import { ensureDir } from './write-confined.js';
import { tarIn, tarOut } from './tar-stream.js';

export interface CpOptions {
  /** -a: keep the source's uid/gid. */
  archive: boolean;
  /** -L: follow a symlink that is the source's last component. */
  followLink: boolean;
}

interface PathForm {
  /** `…/` */
  slash: boolean;
  /** `…/.`: a directory's contents */
  dot: boolean;
}

function formOf(p: string): PathForm {
  return { slash: p.endsWith('/'), dot: p === '.' || p.endsWith('/.') };
}

/** The name a copy of `p` gets inside a destination directory (docker: the last element of the path as given). */
function baseName(p: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  return parts[parts.length - 1] ?? '';
}

const noDir = (what: string) => new TsrunError('NOT_FOUND', `no such directory: ${what}`, { hint: 'the destination directory must exist' });

/** An open host path: the directory the user named (a host path tsrun trusts) and the entry below it. */
function resolveHost(p: string, followLast: boolean): Resolved {
  const abs = path.resolve(p);
  const root = ConfinedDir.openFollowing('/');
  try {
    const r = resolveInRoot(root, abs, followLast, p);
    const close = r.close;
    return { ...r, close: () => (close(), root.close()) };
  } catch (err) {
    root.close();
    throw err;
  }
}

interface Source {
  r: Resolved;
  st: fs.Stats;
  form: PathForm;
  base: string;
  policy: CopyPolicy;
}

/** Write src (resolved, checked) to the destination dst (resolved, following its last symlink). */
function place(src: Source, dst: Resolved, dstPath: string, where: string): void {
  const srcDir = src.st.isDirectory();
  const dstForm = formOf(dstPath);
  let parent: ConfinedDir;
  let name: string | null; // null: into dst itself (a directory's contents)
  let owned: ConfinedDir | undefined;
  if (dst.st?.isDirectory()) {
    parent = dst.name === null ? dst.dir : (owned = dst.dir.openDir(dst.name));
    name = srcDir && (src.form.dot || src.base === '') ? null : src.base;
  } else if (dst.st) {
    if (srcDir) throw new TsrunError('CONFLICT', `cannot overwrite non-directory "${dstPath}" with directory`, { hint: 'name a directory as the destination' });
    parent = dst.dir;
    name = dst.name!;
  } else {
    if (dstForm.slash && !srcDir) throw noDir(dstPath);
    parent = dst.dir;
    name = dst.name!;
  }
  try {
    const at = (n: string | null) => (n === null ? where : `${where}/${n}`);
    if (srcDir) {
      const from = src.r.name === null ? src.r.dir : src.r.dir.openDir(src.r.name);
      const into = name === null ? parent : ensureDir(parent, name, at(name));
      try {
        copyDirContents(from, into, at(name), src.policy, name === null ? undefined : src.st);
      } finally {
        if (from !== src.r.dir) from.close();
        if (into !== parent) into.close();
      }
    } else {
      copyLeaf(src.r.dir, src.r.name!, src.st, parent, name!, at(name), src.policy);
    }
  } finally {
    owned?.close();
  }
}

function checkSource(r: Resolved, p: string, missing: () => Error): { st: fs.Stats; form: PathForm } {
  const form = formOf(p);
  if (!r.st) throw missing();
  if ((form.slash || form.dot) && !r.st.isDirectory()) throw usageError(`${p}: not a directory`, 'a trailing / or /. names a directory');
  return { st: r.st, form };
}

/** `cp CTR:SRC DEST` (DEST `-`: a tar on stdout). */
export function copyFromContainer(ctx: Ctx, c: Container, srcPath: string, dest: string, o: CpOptions): void {
  withContainerRoot(ctx, c, false, ({ root, live }) => {
    const form0 = formOf(srcPath);
    const r = resolveInRoot(root, srcPath, o.followLink || form0.slash || form0.dot, srcPath);
    try {
      const { st, form } = checkSource(r, srcPath, () => notFound(`Could not find the file ${srcPath} in container ${c.config.name}`));
      // a running container's /proc and /sys are its kernel's views, not files (kcore's size is the address space)
      const exclude = live && r.name === null ? new Set(['proc', 'sys']) : undefined;
      if (dest === '-') {
        tarOut(r.dir, r.name, st, form.dot || r.name === null ? '.' : baseName(srcPath) || '.', 1, !live, exclude);
        return;
      }
      const policy: CopyPolicy = { owner: o.archive ? 'source' : undefined, staticSource: !live, exclude };
      const d = resolveHost(dest, true);
      try {
        place({ r, st, form, base: baseName(srcPath), policy }, d, dest, dest);
      } finally {
        d.close();
      }
    } finally {
      r.close();
    }
  });
}

/** `cp SRC CTR:DEST` (SRC `-`: a tar from stdin into the directory DEST). */
export function copyToContainer(ctx: Ctx, c: Container, src: string, destPath: string, o: CpOptions): void {
  // the host side first: a missing source changes nothing and mounts nothing
  const form0 = formOf(src);
  const s = src === '-' ? undefined : resolveHost(src, o.followLink || form0.slash || form0.dot);
  try {
    const checked = s && checkSource(s, src, () => notFound(`lstat ${path.resolve(src)}: no such file or directory`));
    withContainerRoot(ctx, c, true, ({ root }) => {
      const d = resolveInRoot(root, destPath, true, destPath);
      try {
        const where = `${c.config.name}:${destPath}`;
        if (!s) {
          if (!d.st?.isDirectory()) throw d.st ? usageError(`destination "${destPath}" must be a directory`) : notFound(`Could not find the file ${destPath} in container ${c.config.name}`);
          const into = d.name === null ? d.dir : d.dir.openDir(d.name);
          try {
            tarIn(into, where, 0, o.archive);
          } finally {
            if (into !== d.dir) into.close();
          }
          return;
        }
        const policy: CopyPolicy = { owner: o.archive ? 'source' : { uid: 0, gid: 0 }, staticSource: true };
        place({ r: s, st: checked!.st, form: checked!.form, base: baseName(src), policy }, d, destPath, where);
      } finally {
        d.close();
      }
    });
  } finally {
    s?.close();
  }
}
