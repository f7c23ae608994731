/**
 * The true status of a container record. state.json says what tsrun last
 * knew; the kernel knows better. `refresh` reconciles the two before any verb
 * acts (youki style): a running/paused record whose monitor wrote exit.json is
 * exited with that code; one whose process and monitor are both gone (or
 * whose PIDs were reused) is exited with 137 and error "monitor lost".
 *
 * Transitions are written under the container's lock (a flock on its
 * directory, see transition.ts) so two tsrun processes refreshing at once agree.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { readJsonIfExists } from '../util/atomic.js';
import { lockDirExclusive, tryLockDirExclusive, type Lock } from '../util/lock.js';
import { conflict } from '../util/errors.js';
import { readContainer, writeState, type Container, type ContainerState } from './record.js';
import { cgroupOomKills, cgroupPids, freezeRequested, killCgroup, removeCgroup, thawCgroup } from '../runtime/cgroups.js';
import { teardownNetworkSoon } from '../runtime/network/attach.js';
import { watcherTakingOver } from './restart-policy.js';

export interface ExitRecord {
  exitCode: number;
  signal?: string;
  finishedAt: string;
}

/** Start time of a process (field 22 of /proc/PID/stat, clock ticks since boot); undefined when it is gone. */
export function procStartTime(pid: number): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parens: the fields after it start after the last ')'
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  if (state === 'Z' || state === 'X') return undefined; // a zombie is not running any more
  const v = Number(rest[22 - 3]);
  return Number.isFinite(v) ? v : undefined;
}

/** The one-letter state of a process (R, S, D, T, Z …), undefined when gone. */
export function procState(pid: number): string | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Is `pid` alive and still the process that started at `start` (when known)? */
export function sameProcessAlive(pid: number | undefined, start: number | undefined): boolean {
  if (!pid) return false;
  const now = procStartTime(pid);
  if (now === undefined) return false;
  return start === undefined || now === start;
}

/** The (first) child of pid: /proc/PID/task/PID/children where the kernel has it, else a scan of /proc. */
function childOf(pid: number): number | undefined {
  try {
    const first = Number(fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]);
    return first > 0 ? first : undefined;
  } catch {
    /* CONFIG_PROC_CHILDREN off: look for it */
  }
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]) === pid) return Number(name);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

export function isRunning(c: Container): boolean {
  return c.state.status === 'running' || c.state.status === 'paused';
}

export function readExit(c: Container): ExitRecord | undefined {
  try {
    return readJsonIfExists<ExitRecord>(path.join(c.dir, 'exit.json'));
  } catch {
    return undefined; // torn or foreign: the monitor writes atomically, so treat as not yet written
  }
}

/** The new state when the record says live but the kernel disagrees; undefined when nothing changed. */
function reconcile(ctx: Ctx, c: Container): ContainerState | undefined {
  if (!isRunning(c)) return undefined;
  const exit = readExit(c);
  if (exit) {
    // read before the cgroup is released: its memory controller counts the OOM kills
    const oom = cgroupOomKills(c.config.id, ctx) > 0;
    const exited: ContainerState = { ...c.state, status: 'exited', exitCode: exit.exitCode, finishedAt: exit.finishedAt, pid: undefined, monitorPid: undefined, ...(oom ? { oomKilled: true } : {}) };
    // a monitor that is becoming its restart policy's watcher: restarting from the exit on, as docker's (restart-policy.ts)
    return { ...exited, ...watcherTakingOver(c, exited) };
  }
  const procAlive = sameProcessAlive(c.state.pid, c.state.pidStart);
  const monitorAlive = sameProcessAlive(c.state.monitorPid, c.state.monitorStart);
  if (!c.state.pid && monitorAlive) {
    // tsrun was killed after the launch but before it recorded the PID: the monitor's child is the container
    const pid = childOf(c.state.monitorPid!);
    if (pid) return { ...c.state, pid, pidStart: procStartTime(pid) };
  }
  if (procAlive || monitorAlive) return undefined;
  return {
    ...c.state,
    status: 'exited',
    exitCode: 137,
    finishedAt: new Date().toISOString(),
    error: 'monitor lost',
    pid: undefined,
    monitorPid: undefined,
  };
}

/** Kill what is left of an exited container's processes and remove its cgroup. */
export function releaseCgroup(ctx: Ctx, id: string): void {
  try {
    if (cgroupPids(id, ctx).length) killCgroup(id, 'SIGKILL', ctx);
    else thawCgroup(id, ctx);
    removeCgroup(id, ctx);
  } catch {
    /* best effort: rm retries, and a leftover empty cgroup is harmless */
  }
}

/**
 * What the freezer says against the record: 'stale-freeze' when a running
 * record's cgroup is (being) frozen — only a holder of the container's lock
 * freezes a running container (commit, kill), so with the lock free that
 * holder died mid-way, e.g. a commit killed with SIGKILL; 'stale-thaw' when a
 * paused record's cgroup is thawed (an unpause killed between its thaw and
 * its write). undefined when they agree or there is no freezer.
 */
function freezerMismatch(ctx: Ctx, c: Container): 'stale-freeze' | 'stale-thaw' | undefined {
  if (!isRunning(c)) return undefined;
  const frozen = freezeRequested(c.config.id, ctx);
  if (frozen === undefined) return undefined;
  if (c.state.status === 'running' && frozen) return 'stale-freeze';
  if (c.state.status === 'paused' && !frozen) return 'stale-thaw';
  return undefined;
}

/**
 * The container as the kernel sees it, for a caller that holds the
 * container's lock (see transition.ts): the record re-read, an exit recorded
 * (and what is left of its cgroup released), a freeze or thaw whose tsrun
 * died settled. undefined when the record is gone.
 */
export function refreshLocked(ctx: Ctx, id: string): Container | undefined {
  const c = readContainer(ctx, id);
  if (!c) return undefined;
  const next = reconcile(ctx, c);
  if (next) writeState(c, next);
  if (next?.status === 'exited') releaseCgroup(ctx, id);
  // the network of a container seen dead (now or by a tsrun that died before it tore it down)
  if (c.state.status === 'exited' && fs.existsSync(path.join(c.dir, 'network.json'))) teardownNetworkSoon(ctx, c);
  switch (freezerMismatch(ctx, c)) {
    case 'stale-freeze':
      thawCgroup(id, ctx); // the lock is ours: whoever froze it is gone
      break;
    case 'stale-thaw':
      writeState(c, { ...c.state, status: 'running' });
      break;
  }
  return c;
}

/**
 * Tear down an exited container's network under its lock; when the lock is busy, its holder
 * (a start or rm: both refresh under it first) does it.
 */
function releaseNetwork(ctx: Ctx, c: Container): void {
  let lock: Lock | undefined;
  try {
    lock = tryLockDirExclusive(c.dir);
  } catch {
    return; // removed meanwhile
  }
  if (!lock) return;
  try {
    const fresh = readContainer(ctx, c.config.id);
    if (fresh?.state.status === 'exited') teardownNetworkSoon(ctx, fresh);
  } finally {
    lock.release();
  }
}

/**
 * Re-read the container and bring its status in line with the kernel, for
 * readers (ps, inspect, wait) that do not act on it. Returns the fresh record
 * (or `c` when it was removed meanwhile). A running container frozen by a
 * live holder of its lock (a commit in progress) is reported as paused, as
 * docker does, and not written.
 */
export function refresh(ctx: Ctx, c: Container): Container {
  if (!isRunning(c)) {
    // a network left set up by a tsrun that died between start and its record of the exit
    if (c.state.status === 'exited' && fs.existsSync(path.join(c.dir, 'network.json'))) releaseNetwork(ctx, c);
    return c;
  }
  const exitPending = reconcile(ctx, c) !== undefined;
  const mismatch = exitPending ? undefined : freezerMismatch(ctx, c);
  if (!exitPending && !mismatch) return c;
  let lock: Lock | undefined;
  try {
    // an exit is worth waiting for; a freeze mismatch only needs the lock to be free
    lock = exitPending ? lockDirExclusive(c.dir) : tryLockDirExclusive(c.dir);
  } catch {
    return c; // removed meanwhile
  }
  if (!lock) return mismatch === 'stale-freeze' ? { ...c, state: { ...c.state, status: 'paused' } } : c;
  try {
    return refreshLocked(ctx, c.config.id) ?? c;
  } finally {
    lock.release();
  }
}

/** Throw CONFLICT unless the container is running (or paused, when allowed). */
export function requireRunning(c: Container, verb: string, allowPaused = true): void {
  if (c.state.status === 'running' || (allowPaused && c.state.status === 'paused')) return;
  if (c.state.status === 'paused') throw conflict(`cannot ${verb} container ${c.config.name}: it is paused`, `unpause it first: tsrun unpause ${c.config.name}`);
  throw conflict(`cannot ${verb} container ${c.config.name}: it is not running (status ${c.state.status})`, `start it first: tsrun start ${c.config.name}`);
}
