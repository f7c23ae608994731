/**
 * `-u USER[:GROUP]` → uid, gid and supplementary groups, the way docker (runc's
 * GetExecUser) reads them from the image's /etc/passwd and /etc/group. The
 * files are looked up in the container's upper dir, then each layer top
 * first, with symlinks resolved inside that dir (never on the host).
 */
import fs from 'node:fs';
import { resolveInRoot } from '../util/paths.js';
import { TsrunError } from '../util/errors.js';

export interface ExecUser {
  uid: number;
  gid: number;
  groups: number[];
  home: string;
}

function readInLayers(dirs: string[], file: string): string | undefined {
  for (const d of dirs) {
    try {
      const p = resolveInRoot(d, file);
      const st = fs.statSync(p, { throwIfNoEntry: false }); // usually absent from the upper dir: no exception for that
      if (!st?.isFile()) continue;
      if (st.size > 4 << 20) return undefined; // absurd passwd: treat as absent rather than read it
      return fs.readFileSync(p, 'utf8');
    } catch {
      /* not in this layer */
    }
  }
  return undefined;
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
