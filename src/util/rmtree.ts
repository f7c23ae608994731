/**
 * rm -rf without recursion. Layers come from hostile images, and a container
 * can build any tree in its upper dir, so a tree may be thousands of levels
 * deep: Node's `fs.rmSync({ recursive })` recurses per level and throws
 * `Maximum call stack size exceeded` (and, past PATH_MAX, ENAMETOOLONG),
 * which once left the layer store unable to remove anything.
 *
 * Here an explicit stack holds the directories still to empty; each is read
 * once with readdir(withFileTypes), its non-directories unlinked at once and
 * its subdirectories pushed, and it is rmdir'd once they are gone. Names are
 * handled as bytes (a layer may hold names that are not UTF-8, which Node's
 * default string decoding would turn into U+FFFD and then fail to unlink).
 * When a path grows near PATH_MAX, the subdirectory is first renamed to a
 * short name at the top of the tree being removed, so any depth can go.
 * Symlinks are never followed. No module beyond node:fs is loaded (this runs
 * on `run --rm`).
 */
import fs from 'node:fs';

/** Paths longer than this (bytes) are shortened by a rename before going deeper; PATH_MAX is 4096. */
const SHORTEN_AT = 3000;

export interface RemoveResult {
  /** Entries that could not be removed, with the first error of each (the rest of the tree is gone). */
  failed: { path: string; error: NodeJS.ErrnoException }[];
}

const bytes = (p: string) => Buffer.from(p, 'latin1');
const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * Remove `dir` (a path, or its bytes) and everything below it; a missing `dir` is not an error.
 * Every entry that can be removed is; one that cannot (a mount point, an
 * immutable file) is reported in `failed` and its parents are left, but the
 * walk goes on. Paths in `failed` are byte strings (latin1).
 */
export function removeTreeTolerant(dir: string | Buffer): RemoveResult {
  const failed: RemoveResult['failed'] = [];
  const top = (Buffer.isBuffer(dir) ? dir : Buffer.from(dir)).toString('latin1');
  let moved = 0;
  // each item: a directory to empty, then (second visit) to rmdir
  const stack: { path: string; emptied: boolean }[] = [{ path: top, emptied: false }];
  // directories with a child that could not be removed: no rmdir
  const blocked = new Set<string>();
  const fail = (p: string, err: unknown) => {
    failed.push({ path: p, error: err as NodeJS.ErrnoException });
    for (let q = p; q.length > top.length; ) {
      q = q.slice(0, q.lastIndexOf('/'));
      if (blocked.has(q)) break;
      blocked.add(q);
    }
  };
  /** Rename a deep directory to a fresh short name under the top; undefined when that failed. */
  const shorten = (p: string): string | undefined => {
    for (;;) {
      const short = `${top}/.rmtree-${process.pid}-${moved++}`;
      try {
        fs.renameSync(bytes(p), bytes(short));
        return short;
      } catch (err) {
        if (code(err) === 'EEXIST' || code(err) === 'ENOTEMPTY') continue; // a name of the tree itself: try the next
        fail(p, err);
        return undefined;
      }
    }
  };
  while (stack.length) {
    const item = stack[stack.length - 1]!;
    if (item.emptied) {
      stack.pop();
      if (blocked.has(item.path)) continue;
      try {
        fs.rmdirSync(bytes(item.path));
      } catch (err) {
        if (code(err) !== 'ENOENT') fail(item.path, err);
      }
      continue;
    }
    item.emptied = true;
    let entries: fs.Dirent<Buffer>[];
    try {
      entries = fs.readdirSync(bytes(item.path), { withFileTypes: true, encoding: 'buffer' });
    } catch (err) {
      if (code(err) === 'ENOENT') {
        stack.pop();
      } else if (code(err) === 'ENOTDIR') {
        stack.pop(); // the top was a file (or became one)
        try {
          fs.unlinkSync(bytes(item.path));
        } catch (e) {
          if (code(e) !== 'ENOENT') fail(item.path, e);
        }
      } else {
        fail(item.path, err);
      }
      continue;
    }
    for (const e of entries) {
      let p = item.path + '/' + e.name.toString('latin1');
      if (e.isDirectory()) {
        if (p.length > SHORTEN_AT) {
          // bring the subtree up to a short path before going deeper
          const short = shorten(p);
          if (short === undefined) continue;
          p = short;
        }
        stack.push({ path: p, emptied: false });
        continue;
      }
      try {
        fs.unlinkSync(bytes(p));
      } catch (err) {
        if (code(err) !== 'ENOENT') fail(p, err);
      }
    }
  }
  return { failed };
}

/** removeTreeTolerant that throws the first failure (after removing everything else it could). */
export function removeTree(dir: string | Buffer): void {
  const { failed } = removeTreeTolerant(dir);
  if (failed.length) throw failed[0]!.error;
}
