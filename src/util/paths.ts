/**
 * Path confinement for untrusted names (tar entries, image config paths).
 * Names are cleaned lexically; symlinks on the way are checked by the caller
 * with resolveInRoot, which walks the real tree without following links out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { unsafePath } from './errors.js';

/** A member name for a message: at most 120 characters (a hostile name can be megabytes long). */
function shown(name: string): string {
  return JSON.stringify(name.length > 120 ? name.slice(0, 60) + '…' + name.slice(-60) : name);
}

/**
 * Clean an archive member name into a relative path with no `.`/`..`
 * components. Throws UNSAFE_PATH when the name climbs out of the root.
 * Leading `/` and `./` are dropped, as tar and docker do.
 */
export function cleanMemberName(name: string): string {
  if (name.includes('\0')) throw unsafePath(`entry name contains a NUL byte: ${shown(name)}`);
  // the common case, `./a/b/` or `a/b`: clean once the leading `./` and a trailing `/` are dropped (no split, no join)
  let start = 0;
  while (name.charCodeAt(start) === 46 && name.charCodeAt(start + 1) === 47) start += 2;
  const end = name.length > start && name.charCodeAt(name.length - 1) === 47 ? name.length - 1 : name.length;
  if (hasOnlyPlainParts(name, start, end)) return start === 0 && end === name.length ? name : name.slice(start, end);
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw unsafePath(`entry ${shown(name)} escapes the root`);
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.join('/');
}

/** True when name[start, end) is non-empty and has no empty, `.` or `..` component. */
function hasOnlyPlainParts(name: string, start: number, end: number): boolean {
  if (end <= start) return false;
  let from = start;
  for (let i = start; i <= end; i++) {
    if (i < end && name.charCodeAt(i) !== 47) continue;
    const len = i - from;
    if (len === 0) return false;
    if (name.charCodeAt(from) === 46 && (len === 1 || (len === 2 && name.charCodeAt(from + 1) === 46))) return false;
    from = i + 1;
  }
  return true;
}

/** True when a raw member name has a `..` component that would climb above the root. */
export function escapesRoot(name: string): boolean {
  try {
    cleanMemberName(name);
    return false;
  } catch {
    return true;
  }
}

/**
 * Join root and a cleaned relative path, checking that no existing component
 * on the way (the parents, not the last one) is a symlink. A symlink parent
 * could point anywhere on the host, so it is refused rather than followed.
 */
export function joinNoSymlinkParents(root: string, rel: string): string {
  const parts = rel.split('/').filter(Boolean);
  let cur = root;
  for (let i = 0; i < parts.length - 1; i++) {
    cur = path.join(cur, parts[i]!);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(cur);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return path.join(root, ...parts);
      throw err;
    }
    if (st.isSymbolicLink()) throw unsafePath(`entry ${JSON.stringify(rel)} has a parent that is a symlink`);
    if (!st.isDirectory()) throw unsafePath(`entry ${JSON.stringify(rel)} has a parent that is not a directory`);
  }
  return path.join(root, ...parts);
}

/**
 * Resolve `p` (absolute inside the container, or relative) against `root` the
 * way the kernel would inside a chroot: symlinks are followed but `..` and
 * absolute targets never leave root. Used for container paths (passwd, volumes, cwd).
 */
export function resolveInRoot(root: string, p: string, maxLinks = 40): string {
  const todo = p.split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const cur = path.join(root, ...done, part);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(cur, { throwIfNoEntry: false }); // a missing part is common (passwd lookups): no exception for it
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) {
      if (++links > maxLinks) throw unsafePath(`too many symlinks resolving ${p}`);
      const target = fs.readlinkSync(cur);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    done.push(part);
  }
  return path.join(root, ...done);
}
