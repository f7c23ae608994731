/**
 * A path of the container resolved inside the container's root, the way the kernel would resolve it
 * there with RESOLVE_IN_ROOT: `..` stops at the root, an absolute symlink starts again at the root,
 * a relative one at its directory. Every step is one name looked up through an open directory fd
 * (util/confined-dir.ts) and never followed by the kernel; `..` pops a stack of those fds instead of
 * opening "..". So neither `cp CTR:../../etc/passwd` nor a symlink `/x -> /etc` in the image, nor a
 * running container swapping a directory for a symlink mid-copy, ever reaches a host path.
 */
import fs from 'node:fs';
import { ConfinedDir, ChangedError } from '../../util/confined-dir.js';
import { hasCode, TsrunError } from '../../util/errors.js';

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS). */
const MAX_LINKS = 40;

export interface Resolved {
  /** The directory that holds the entry (the root itself when `name` is null). */
  dir: ConfinedDir;
  /** The entry's name in dir; null for the root directory. */
  name: string | null;
  /** Its lstat (or the root's stat); undefined when nothing is there (dir, the parent, exists). */
  st: fs.Stats | undefined;
  /** The path as resolved, from the root (for messages). */
  path: string;
  /** Close every fd the resolution opened (not the root). */
  close(): void;
}

function components(p: string): string[] {
  return p.split('/').filter((s) => s !== '' && s !== '.');
}

/**
 * Resolve `p` (absolute or relative to the root) inside `root`. Symlinks in the parents are always
 * followed (inside the root); the last component only when followLast. A missing parent is
 * NOT_FOUND (`what` names the path for the message); a missing last component is st undefined.
 */
export function resolveInRoot(root: ConfinedDir, p: string, followLast: boolean, what: string): Resolved {
  const stack: ConfinedDir[] = [root];
  const names: string[] = []; // the resolved path's names, for messages
  const close = () => {
    for (const d of stack.splice(1)) d.close();
  };
  let todo = components(p);
  let links = 0;
  try {
    for (;;) {
      // '..' at any point: pop a directory (the root stays)
      while (todo[0] === '..') {
        todo = todo.slice(1);
        if (stack.length > 1) stack.pop()!.close();
        names.pop();
      }
      const top = stack[stack.length - 1]!;
      if (!todo.length) return { dir: top, name: null, st: statSelf(top), path: '/' + names.join('/'), close };
      const name = todo[0]!;
      const last = todo.length === 1;
      let st: fs.Stats | undefined;
      try {
        st = top.lstat(name);
      } catch (err) {
        if (!hasCode(err, 'ENOENT')) throw err;
      }
      if (!st) {
        if (last) return { dir: top, name, st: undefined, path: '/' + [...names, name].join('/'), close };
        throw new TsrunError('NOT_FOUND', `Could not find the file ${what}: no such directory ${'/' + [...names, name].join('/')}`);
      }
      if (st.isSymbolicLink() && (!last || followLast)) {
        if (++links > MAX_LINKS) throw new TsrunError('USAGE', `too many levels of symbolic links in ${what}`);
        const target = top.readlink(name);
        // an absolute target starts again at the container's root, never the host's
        if (target.startsWith('/')) {
          close();
          names.length = 0;
        }
        todo = [...components(target), ...todo.slice(1)];
        continue;
      }
      if (last) return { dir: top, name, st, path: '/' + [...names, name].join('/'), close };
      if (!st.isDirectory()) throw new TsrunError('USAGE', `Could not find the file ${what}: ${'/' + [...names, name].join('/')} is not a directory`);
      stack.push(top.openDir(name));
      names.push(name);
      todo = todo.slice(1);
    }
  } catch (err) {
    close();
    if (err instanceof ChangedError) throw new TsrunError('CONFLICT', `${what} changed while it was resolved`, { hint: 'try again' });
    throw err;
  }
}

function statSelf(d: ConfinedDir): fs.Stats {
  return fs.fstatSync(d.fd);
}
