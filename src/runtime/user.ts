/**
 * `-u USER[:GROUP]` → uid, gid and supplementary groups, the way docker (runc's
 * GetExecUser) reads them from the image's /etc/passwd and /etc/group. The
 * files are looked up in the container's upper dir, then each layer top
 * first, with symlinks resolved inside that dir (never on the host).
 *
 * The image is hostile: every read is bounded (MAX_FILE) and cannot block
 * (O_NONBLOCK, regular files only), and a file that cannot be read counts as
 * absent. An unset user is uid 0 gid 0 when the image has no passwd entry for
 * uid 0 (a FROM-scratch image, a fifo as /etc/passwd), as runc and docker do.
 */
import fs from 'node:fs';
import { resolveInRoot } from '../util/paths.js';
import { hasCode, TsrunError } from '../util/errors.js';
import { native } from '../native.js';

export interface ExecUser {
  uid: number;
  gid: number;
  groups: number[];
  home: string;
}

const MAX_FILE = 4 << 20; // an absurd passwd is treated as absent rather than read

/**
 * `file` as the container sees it: from the first of dirs (upper first) that
 * has anything at that path. Something other than a regular file there (a
 * whiteout, a directory) hides the layers below: then there is no file.
 */
function readInLayers(dirs: string[], file: string): string | undefined {
  for (const d of dirs) {
    let found: Buffer | string | null | false;
    try {
      // the kernel resolves inside d (openat2 RESOLVE_IN_ROOT): one call per layer
      found = native().readFileInRoot(d, file, MAX_FILE);
    } catch (err) {
      // no openat2 (Linux < 5.6): the walk in JS; any other error (EACCES, EIO, a socket's ENXIO) hides the file
      found = hasCode(err, 'ENOSYS') ? readByWalk(d, file) : false;
    }
    if (found === false) return undefined;
    if (found !== null) return found.toString('utf8');
  }
  return undefined;
}

function readByWalk(dir: string, file: string): string | null | false {
  let fd: number;
  try {
    // O_NOFOLLOW + O_NONBLOCK, then fstat: what was swapped in after the walk is never followed or waited on
    const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW, O_NOCTTY } = fs.constants;
    fd = fs.openSync(resolveInRoot(dir, file), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY);
  } catch (err) {
    return hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR') ? null : false;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > MAX_FILE) return false;
    const buf = Buffer.alloc(st.size);
    const n = fs.readSync(fd, buf, 0, st.size, 0);
    return buf.subarray(0, n).toString('utf8');
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

const isId = (s: string) => /^\d+$/.test(s) && Number(s) <= 0xfffffffe;

/** `dirs`: upper first, then lower dirs topmost first. */
export function resolveUser(dirs: string[], spec: string): ExecUser {
  const [userPart = '', groupPart] = spec.split(':', 2) as [string, string | undefined];
  const passwd = (readInLayers(dirs, '/etc/passwd') ?? '').split('\n').map((l) => l.split(':'));
  const group = (readInLayers(dirs, '/etc/group') ?? '').split('\n').map((l) => l.split(':'));
  // unset: the first entry with uid 0, else uid 0 gid 0 without one (runc's defaults)
  const name = userPart || '0';
  let entry = userPart ? passwd.find((f) => f.length >= 4 && f[0] === name) : undefined;
  if (!entry && isId(name)) entry = passwd.find((f) => f.length >= 4 && f[2] === name && isId(f[3] ?? ''));
  let uid: number;
  let gid = 0;
  let home = '/';
  let userName: string | undefined;
  if (entry) {
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5] || '/';
    userName = entry[0];
  } else if (isId(name)) {
    uid = Number(name);
  } else {
    throw new TsrunError('NOT_FOUND', `unable to find user ${name}: no matching entries in passwd file`, { hint: 'use a numeric uid or a user in the image' });
  }
  let groups: number[] = [];
  if (groupPart !== undefined && groupPart !== '') {
    const g = group.find((f) => f.length >= 3 && f[0] === groupPart) ?? (isId(groupPart) ? group.find((f) => f[2] === groupPart) : undefined);
    if (g) gid = Number(g[2]);
    else if (isId(groupPart)) gid = Number(groupPart);
    else throw new TsrunError('NOT_FOUND', `unable to find group ${groupPart}: no matching entries in group file`, { hint: 'use a numeric gid or a group in the image' });
  } else if (userName) {
    groups = group.filter((f) => f.length >= 4 && f[3]!.split(',').includes(userName!) && isId(f[2]!)).map((f) => Number(f[2]));
  }
  groups = [...new Set(groups.filter((g) => g !== gid))];
  return { uid, gid, groups, home };
}
