/**
 * `-u USER[:GROUP]` → uid, gid and supplementary groups, the way docker (runc's
 * GetExecUser) reads them from the image's /etc/passwd and /etc/group. The
 * files are looked up in the container's upper dir, then each layer top
 * first, with symlinks resolved inside that dir (never on the host).
 */
import fs from 'node:fs';
import { resolveInRoot } from '../util/paths.js';
import { TsrunError } from '../util/errors.js';
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
    } catch {
      found = readByWalk(d, file); // no openat2 (Linux < 5.6): the walk in JS
    }
    if (found === false) return undefined;
    if (found !== null) return found.toString('utf8');
  }
  return undefined;
}

function readByWalk(dir: string, file: string): string | null | false {
  try {
    const p = resolveInRoot(dir, file);
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st) return null;
    if (!st.isFile() || st.size > MAX_FILE) return false;
    return fs.readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

const isId = (s: string) => /^\d+$/.test(s) && Number(s) <= 0xfffffffe;

/** `dirs`: upper first, then lower dirs topmost first. */
export function resolveUser(dirs: string[], spec: string): ExecUser {
  const [userPart = '', groupPart] = spec.split(':', 2) as [string, string | undefined];
  const passwd = (readInLayers(dirs, '/etc/passwd') ?? '').split('\n').map((l) => l.split(':'));
  const group = (readInLayers(dirs, '/etc/group') ?? '').split('\n').map((l) => l.split(':'));
  const name = userPart || 'root';
  let entry = passwd.find((f) => f.length >= 4 && f[0] === name);
  if (!entry && isId(name)) entry = passwd.find((f) => f.length >= 4 && f[2] === name);
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
