/** `top`: the processes of a container's cgroup, as the host's ps shows them. */
import { spawnSync } from 'node:child_process';
import type { Ctx } from '../context.js';
import { TsrunError } from '../util/errors.js';
import type { Container } from '../containers/record.js';
import { refresh, requireRunning } from '../containers/status.js';
import { cgroupPids } from '../runtime/cgroups.js';

/** Table text from `ps PSARGS -p PIDS` (default `-f`: UID PID PPID C STIME TTY TIME CMD, docker's columns). */
export function containerTop(ctx: Ctx, c0: Container, psArgs: string[]): string {
  const c = refresh(ctx, c0);
  requireRunning(c, 'top');
  let pids = cgroupPids(c.config.id, ctx);
  if (!pids.length && c.state.pid) pids = [c.state.pid];
  const args = [...(psArgs.length ? psArgs : ['-f']), '-p', pids.join(',')];
  const r = spawnSync('ps', args, { encoding: 'utf8' });
  if (r.error) throw new TsrunError('UNSUPPORTED', `cannot run ps: ${r.error.message}`, { hint: 'install procps' });
  // ps exits 1 when a pid vanished between listing and ps: the header and the rest are still right
  if (r.status !== 0 && !r.stdout.trim()) throw new TsrunError('USAGE', `ps ${args.join(' ')} failed: ${r.stderr.trim().split('\n')[0]}`, { hint: 'check the ps options' });
  return r.stdout;
}
