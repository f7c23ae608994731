/**
 * `cp CTR:PATH -` (a tar of PATH on stdout) and `cp - CTR:DIR` (a tar from stdin unpacked into
 * DIR), docker's two stream forms. Out: names start with PATH's base name (docker's rebasing), or
 * `.` for `PATH/.`. In: every member name is cleaned and must stay inside DIR (a `..` that leaves it
 * is refused: nothing of that member is written); parents are looked up one name at a time through
 * directory fds, so a symlink in the container (or one the archive itself made) is never followed.
 */
import fs from 'node:fs';
import { ConfinedDir } from '../../util/confined-dir.js';
import { walkTree } from '../../diff/walk.js';
import { TarWriter, type TarType } from '../../diff/tar-writer.js';
import { TarReader, displayName, type TarEntry, type TarDataSink } from '../../diff/tarreader.js';
import { writeFully } from '../../util/fdwrite.js';
import { TsrunError, unsafePath } from '../../util/errors.js';
import { resolveInRoot } from './resolve.js';
import { createFile, ensureDir, major, minor, setDirMeta, setFdMeta, writeHardlink, writeNode, writeSymlink, type Meta } from './write-confined.js';

/** Tar the entry `name` of dir (null: dir itself) to fd, member names under `base`. */
export function tarOut(dir: ConfinedDir, name: string | null, st: fs.Stats, base: string, fd: number, staticSource: boolean, exclude?: ReadonlySet<string>): void {
  const w = new TarWriter((chunk) => writeFully(fd, chunk), 1 << 20);
  const head = (rel: string, s: fs.Stats, type: TarType, extra: { size?: number; linkname?: string; devmajor?: number; devminor?: number } = {}) =>
    w.header({ name: rel, type, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, mtime: Math.floor(s.mtimeMs / 1000), size: 0, ...extra });
  if (st.isDirectory()) {
    head(base, st, 'dir');
    const d = name === null ? dir : dir.openDir(name);
    try {
      walkTree(d, { mode: 'plain', openFiles: true, directOpen: staticSource, exclude }, (e) => {
        const rel = `${base}/${e.rel}`;
        const x = { mode: e.st.mode, uid: e.st.uid, gid: e.st.gid, mtime: Math.floor(e.st.mtimeMs / 1000), xattrs: e.xattrs, size: 0, name: rel };
        switch (e.kind) {
          case 'file':
            w.header({ ...x, type: 'file', size: e.st.size });
            w.fileData(e.fd!, e.st.size);
            return;
          case 'char':
          case 'block':
            w.header({ ...x, type: e.kind, devmajor: major(e.st.rdev), devminor: minor(e.st.rdev) });
            return;
          case 'dir':
          case 'fifo':
            w.header({ ...x, type: e.kind });
            return;
          case 'symlink':
            w.header({ ...x, type: 'symlink', linkname: e.linkname });
            return;
          case 'link':
            w.header({ ...x, type: 'link', linkname: `${base}/${e.linkname}` });
            return;
          default:
            return;
        }
      });
    } finally {
      if (d !== dir) d.close();
    }
  } else if (st.isFile()) {
    const { fd: f, st: fst } = dir.openFile(name!, staticSource);
    try {
      head(base, fst, 'file', { size: fst.size });
      w.fileData(f, fst.size);
    } finally {
      fs.closeSync(f);
    }
  } else if (st.isSymbolicLink()) {
    head(base, st, 'symlink', { linkname: dir.readlink(name!) });
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    head(base, st, st.isCharacterDevice() ? 'char' : 'block', { devmajor: major(st.rdev), devminor: minor(st.rdev) });
  } else if (st.isFIFO()) {
    head(base, st, 'fifo');
  }
  w.finish();
}

/** A member name as components inside the destination; refused when it leaves it. */
function memberPath(raw: string): string[] {
  const out: string[] = [];
  for (const c of raw.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (!out.length) throw unsafePath(`tar member "${displayName(raw)}" is outside the destination directory`);
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out;
}

/** Unpack the tar read from fd into dst; `owner`: the archive's owners (-a) or root. */
export function tarIn(dst: ConfinedDir, where: string, fd: number, keepOwners: boolean): void {
  const metaOf = (e: TarEntry): Meta => ({ mode: e.mode, uid: keepOwners ? e.uid : 0, gid: keepOwners ? e.gid : 0, mtime: e.mtime, atime: e.atime });
  const dirs: { comps: string[]; meta: Meta }[] = [];
  /** The open parent directory of comps (made when missing), and the last name. */
  const parentOf = (comps: string[], at: string): ConfinedDir => {
    let d = dst;
    for (const c of comps.slice(0, -1)) {
      const next = ensureDir(d, c, at);
      if (d !== dst) d.close();
      d = next;
    }
    return d;
  };
  const reader = new TarReader((e): TarDataSink | null => {
    const comps = memberPath(e.name);
    const at = `${where}/${comps.join('/')}`;
    if (!comps.length) {
      if (e.type === 'dir') dirs.push({ comps, meta: metaOf(e) }); // "./": the destination itself
      return null;
    }
    const parent = parentOf(comps, at);
    const name = comps[comps.length - 1]!;
    const done = () => {
      if (parent !== dst) parent.close();
    };
    try {
      switch (e.type) {
        case 'dir':
          ensureDir(parent, name, at).close();
          dirs.push({ comps, meta: metaOf(e) });
          break;
        case 'file': {
          const f = createFile(parent, name, at);
          done();
          return {
            write: (chunk, position) => void fs.writeSync(f, chunk, 0, chunk.length, position),
            end: () => {
              try {
                setFdMeta(f, metaOf(e));
              } finally {
                fs.closeSync(f);
              }
            },
          };
        }
        case 'symlink':
          writeSymlink(parent, name, at, e.linkname, metaOf(e));
          break;
        case 'link': {
          const target = resolveInRoot(dst, memberPath(e.linkname).join('/'), false, at);
          try {
            if (!target.st || target.name === null || target.st.isDirectory()) throw unsafePath(`tar member "${displayName(e.name)}" links to "${displayName(e.linkname)}", which is not in the archive before it`);
            writeHardlink(parent, name, at, target.dir.at(target.name));
          } finally {
            target.close();
          }
          break;
        }
        default:
          writeNode(parent, name, at, e.type, e.devmajor, e.devminor, metaOf(e));
      }
    } finally {
      if (e.type !== 'file') done();
    }
    return null;
  });
  const buf = Buffer.allocUnsafe(1 << 20);
  let total = 0;
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      throw err;
    }
    if (n === 0) break;
    total += n;
    reader.push(buf.subarray(0, n));
    if (reader.ended) break;
  }
  if (!total) throw new TsrunError('INVALID_ARCHIVE', 'no tar archive on stdin', { hint: 'pipe a tar stream: tar -c … | tsrun cp - CONTAINER:DIR' });
  if (!reader.ended) throw new TsrunError('INVALID_ARCHIVE', 'the tar archive on stdin ended early', { hint: 'check the archive' });
  // directories' modes, owners and times last: their contents changed their mtimes
  for (const { comps, meta } of dirs.reverse()) {
    const r = resolveInRoot(dst, comps.join('/'), false, where);
    try {
      if (r.st?.isDirectory()) {
        const d = r.name === null ? r.dir : r.dir.openDir(r.name);
        try {
          setDirMeta(d, meta);
        } finally {
          if (d !== r.dir) d.close();
        }
      }
    } finally {
      r.close();
    }
  }
}
