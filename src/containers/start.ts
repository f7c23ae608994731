/**
 * start: created/exited → running, as one locked transition (transition.ts):
 * refresh (a "running" record whose monitor is gone is exited), refuse a live
 * container, make its cgroup, hand the plan to tsrun-init, record the PIDs
 * (with start times, so a reused PID is never mistaken for the container).
 * The lock is held until the PIDs are written: a second start waits, then
 * finds the container running.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { isTsrunError } from '../util/errors.js';
import { writeState, type Container } from './record.js';
import { procStartTime } from './status.js';
import { transition } from './transition.js';
import { createCgroup, removeCgroup } from '../runtime/cgroups.js';
import { runCloneRecord, runEarlyRecords, runPlan } from '../runtime/plan.js';
import { PendingLaunch, type Launched } from '../runtime/launch.js';
import { mark } from '../util/trace.js';

export interface Started {
  container: Container;
  launched: Launched;
  /** The container's cgroup dirs (as recorded in its cgroup.json). */
  cgroupDirs: string[];
}

/**
 * `launcher`: one `run` spawned before it created the container (see
 * PendingLaunch); else one is spawned here. Either way it is killed if the
 * start fails.
 */
export async function startContainer(ctx: Ctx, c0: Container, opts: { detach: boolean; launcher?: PendingLaunch } = { detach: true }): Promise<Started> {
  try {
    return await transition(ctx, c0, 'start', (c) => launchLocked(ctx, c, opts));
  } catch (err) {
    opts.launcher?.abort(); // refused or failed: the launcher spawned ahead must not linger
    throw err;
  }
}

async function launchLocked(ctx: Ctx, c: Container, opts: { detach: boolean; launcher?: PendingLaunch }): Promise<Started> {
  const exitFile = path.join(c.dir, 'exit.json');
  if (fs.existsSync(exitFile)) fs.rmSync(exitFile, { force: true }); // rmSync loads Node's rimraf: only when there is one
  let launched: Launched;
  let cgroupDirs: string[];
  let launcher: PendingLaunch | undefined = opts.launcher;
  try {
    mark('start');
    const { dirs, procsFiles, devicesDir } = createCgroup(ctx, c.config.id);
    cgroupDirs = dirs;
    mark('cgroup made');
    launcher ??= new PendingLaunch(opts.detach, runCloneRecord(c.config.host.network));
    launcher.early(runEarlyRecords(ctx, c, procsFiles, devicesDir));
    // from here on a tsrun killed at any moment leaves a record that `refresh` can follow
    const monitorPid = launcher.monitorPid;
    writeState(c, { status: 'running', monitorPid, monitorStart: procStartTime(monitorPid), startedAt: new Date().toISOString(), restartCount: c.state.restartCount });
    mark('state written');
    // the rest of the plan is built while the launcher works on the early block
    launched = await launcher.complete(() => runPlan(ctx, c, opts.detach));
  } catch (err) {
    launcher?.abort();
    const exitCode = isTsrunError(err) ? err.exitCode : 125;
    writeState(c, { ...c.state, status: 'exited', exitCode, finishedAt: new Date().toISOString(), error: (err as Error).message, pid: undefined, monitorPid: undefined });
    try {
      removeCgroup(c.config.id, ctx);
    } catch {
      /* empty cgroup left behind: rm removes it */
    }
    throw err;
  }
  writeState(c, { ...c.state, pid: launched.pid, pidStart: procStartTime(launched.pid) });
  return { container: c, launched, cgroupDirs };
}
