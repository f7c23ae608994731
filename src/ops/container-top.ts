/**
 * `top`: the processes of a container's cgroup, as the host's ps shows them.
 *
 * Docker's way (moby daemon/top_unix.go): run `ps PSARGS -q PIDS`; when ps refuses that mix (`f`,
 * BSD-style `aux` with some procps versions) run `ps PSARGS` alone; then, whatever ps printed, keep
 * only the header and the rows whose PID column names a process of the container. So `top c aux`
 * lists the container's processes, never the host's.
 */
import { spawnSync } from 'node:child_process';
import type { Ctx } from '../context.js';
import { TsrunError } from '../util/errors.js';
import type { Container } from '../containers/record.js';
import { refresh, requireRunning } from '../containers/status.js';
import { cgroupPids } from '../runtime/cgroups.js';

/** Table text of the container's processes (default `-f`: UID PID PPID C STIME TTY TIME CMD, docker's columns). */
export function containerTop(ctx: Ctx, c0: Container, psArgs: string[]): string {
  const c = refresh(ctx, c0);
  requireRunning(c, 'top');
  let pids = cgroupPids(c.config.id, ctx);
  if (!pids.length && c.state.pid) pids = [c.state.pid];
  const args = psArgs.length ? psArgs : ['-f'];
  let r = spawnSync('ps', [...args, '-q', pids.join(',')], { encoding: 'utf8' });
  if (r.error) throw new TsrunError('UNSUPPORTED', `cannot run ps: ${r.error.message}`, { hint: 'install procps' });
  if (r.status !== 0 || !r.stdout.trim()) r = spawnSync('ps', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0 || !r.stdout.trim()) {
    throw new TsrunError('USAGE', `ps ${args.join(' ')} failed: ${(r.stderr || 'no output').trim().split('\n')[0]}`, { hint: 'check the ps options' });
  }
  return filterPsOutput(r.stdout, new Set(pids));
}

/**
 * Keep ps's header and the rows whose PID column is one of pids. The PID column is found by its
 * header; rows are split on blanks as docker does (columns before PID never hold blanks in ps's
 * standard formats). No PID column is docker's error.
 */
export function filterPsOutput(out: string, pids: Set<number>): string {
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0] ?? '';
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw new TsrunError('USAGE', "Couldn't find PID field in ps output", { hint: 'include pid in the ps -o columns' });
  const kept = [header];
  for (const line of lines.slice(1)) {
    const pid = Number(line.trim().split(/\s+/)[col]);
    if (pids.has(pid)) kept.push(line);
  }
  return kept.join('\n') + '\n';
}
