/**
 * The spec's process, for a container's own process and for exec alike: the
 * user resolved in the image's /etc/passwd and /etc/group, docker's
 * environment additions (HOME, HOSTNAME), capabilities (a non-root user gets
 * none in its effective and permitted sets, as docker), --ulimit.
 */
import path from 'node:path';
import type { Ctx } from '../../context.js';
import type { Container } from '../../containers/record.js';
import { TsrunError } from '../../util/errors.js';
import { capabilitySet } from '../caps.js';
import { resolveUser } from '../user.js';
import type { SpecProcess } from './types.js';

/** docker's --ulimit names, each the spec's RLIMIT_* type. */
export const RLIMITS = [
  'cpu', 'fsize', 'data', 'stack', 'core', 'rss', 'nproc', 'nofile', 'memlock', 'as', 'locks', 'sigpending', 'msgqueue', 'nice', 'rtprio', 'rttime',
] as const;

/** Process settings shared by run and exec. */
export interface ProcessSpec {
  args: string[];
  env: string[];
  cwd: string;
  user: string;
  tty: boolean;
  openStdin: boolean;
  detach: boolean;
}

/** Upper dir then lower dirs topmost first: where the image's files are, for /etc/passwd. */
export function layerDirs(ctx: Ctx, c: Container): string[] {
  return [path.join(c.dir, 'upper'), ...c.config.layers.map((l) => ctx.layers.diffDir(l)).reverse()];
}

export function specProcess(ctx: Ctx, c: Container, proc: ProcessSpec): SpecProcess {
  const h = c.config.host;
  const caps = capabilitySet(h).map((n) => `CAP_${n}`);
  const user = resolveUser(layerDirs(ctx, c), proc.user);
  let env = proc.env.some((e) => e.startsWith('HOME=')) ? proc.env : [...proc.env, `HOME=${user.home}`];
  // docker's daemon environment: HOSTNAME after PATH, unless -e or the image set it
  if (!env.some((e) => e.startsWith('HOSTNAME='))) env = [...env.slice(0, 1), `HOSTNAME=${c.config.hostname}`, ...env.slice(1)];
  const root = user.uid === 0;
  const out: SpecProcess = {
    terminal: proc.tty,
    user: { uid: user.uid, gid: user.gid, ...(user.groups.length ? { additionalGids: user.groups } : {}) },
    args: proc.args,
    env,
    cwd: proc.cwd || '/',
    capabilities: { bounding: caps, effective: root ? caps : [], inheritable: [], permitted: root ? caps : [], ambient: [] },
    noNewPrivileges: h.noNewPrivileges,
    ...(h.oomScoreAdj !== undefined ? { oomScoreAdj: h.oomScoreAdj } : {}),
  };
  if (h.ulimits.length) {
    out.rlimits = h.ulimits.map((u) => {
      if (!(RLIMITS as readonly string[]).includes(u.name)) throw new TsrunError('USAGE', `unknown ulimit ${u.name}`);
      // -1 is unlimited: RLIM_INFINITY, all ones
      const n = (v: number) => (v < 0 ? 18446744073709551615 : v);
      return { type: `RLIMIT_${u.name.toUpperCase()}`, hard: n(u.hard), soft: n(u.soft) };
    });
  }
  for (const a of [...out.args, ...out.env, out.cwd]) {
    if (a.includes('\0')) throw new TsrunError('USAGE', 'arguments, env and paths cannot contain NUL', { hint: 'remove the NUL byte' });
  }
  return out;
}
