/**
 * start: created/exited → running, as one locked transition (transition.ts):
 * refresh (a "running" record whose monitor is gone is exited), refuse a live
 * container, record where its cgroup goes, hand its OCI spec to tsrun-init,
 * which makes the cgroup with the spec's limits (and keep the spec as
 * spec.json in the container's dir), record the PIDs
 * (with start times, so a reused PID is never mistaken for the container).
 * The lock is held until the PIDs are written: a second start waits, then
 * finds the container running.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { conflict, isTsrunError } from '../util/errors.js';
import { writeState, type Container, type ContainerState } from './record.js';
import { procStartTime } from './status.js';
import { transition } from './transition.js';
import { planCgroup, removeCgroup } from '../runtime/cgroups.js';
import { containerSpec, specJson, specNamespaces } from '../runtime/spec/build.js';
import { checkPropagationSources } from '../runtime/spec/propagation.js';
import { PendingLaunch, type Launched } from '../runtime/launch.js';
import { mark } from '../util/trace.js';
import { restartStateAtStart } from './restart-policy.js';

export interface StartOptions {
  detach: boolean;
  launcher?: PendingLaunch;
  /** A restart by the container's restart policy (its count and back-off go on); else the user's start, which resets them. */
  byPolicy?: boolean;
  /**
   * Join this network namespace instead of setting up the container's network mode: one the
   * caller made, set up and tears down (a build's RUN steps share one: runtime/network/shared.ts;
   * the caller also writes the container's hosts and resolv.conf).
   */
  netns?: string;
  /** A foreground start's detach keys (bytes), for a container with -it. */
  detachKeys?: number[];
  /** A foreground start's stdin, when it is not `run -i`'s (see RunLaunch.stdinAttach). */
  stdinAttach?: 'none' | 'keep';
}

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
export async function startContainer(ctx: Ctx, c0: Container, opts: StartOptions = { detach: true }): Promise<Started> {
  try {
    return await transition(ctx, c0, 'start', (c) => launchLocked(ctx, c, opts));
  } catch (err) {
    opts.launcher?.abort(); // refused or failed: the launcher spawned ahead must not linger
    throw err;
  }
}

async function launchLocked(ctx: Ctx, c: Container, opts: StartOptions): Promise<Started> {
  // a policy restart goes ahead only while it is still pending and this watcher's (stop, kill, rm, start cancel it)
  if (opts.byPolicy && c.state.restarting?.pid !== process.pid) throw conflict(`the restart of ${c.config.name} was cancelled`);
  checkPropagationSources(c.config.host.mounts); // the host's mounts may have changed since create (docker checks at start)
  const before = c.state;
  const exitFile = path.join(c.dir, 'exit.json');
  if (fs.existsSync(exitFile)) fs.rmSync(exitFile, { force: true }); // rmSync loads Node's rimraf: only when there is one
  let launched: Launched;
  let cgroupDirs: string[] = [];
  let launcher: PendingLaunch | undefined = opts.launcher;
  try {
    mark('start');
    const mode = c.config.host.network;
    launcher ??= new PendingLaunch(opts.detach, specNamespaces(mode, undefined, c.config.host.usernsMode));
    const monitorPid = launcher.monitorPid;
    const running = () =>
      writeState(c, { status: 'running', monitorPid, monitorStart: procStartTime(monitorPid), startedAt: new Date().toISOString(), ...restartStateAtStart(c.state, !!opts.byPolicy) });
    /* where its cgroup goes (recorded), then its spec, sent: the launcher makes the cgroup with the
       spec's limits and sets the container up meanwhile */
    const sendSpec = (netns?: string) => {
      const cg = planCgroup(ctx, c.config.id);
      cgroupDirs = cg.layout.dirs;
      mark('cgroup planned');
      spec = specJson(containerSpec(ctx, c, { detach: opts.detach, detachKeys: opts.detachKeys, stdinAttach: opts.stdinAttach, cgroupsPath: cg.cgroupsPath, cgroupDirs, devicesDir: cg.devicesDir, netns }));
      launcher!.early(spec);
      mark('spec sent');
    };
    let spec = '';
    if (mode === 'none' || mode === 'host' || opts.netns) {
      sendSpec(opts.netns);
      // from here on a tsrun killed at any moment leaves a record that `refresh` can follow
      running();
      mark('state written');
      launched = await launcher.complete();
    } else {
      // running first: a tsrun killed while the network is being made leaves a record whose
      // monitor dies with it, and whoever sees it dead replays the network's teardown
      running();
      const net = await import('../runtime/network/attach.js');
      if (mode.startsWith('container:')) {
        sendSpec(net.joinContainerNetwork(ctx, c));
        launched = await launcher.complete();
      } else {
        const prepared = net.prepareNetwork(ctx, c);
        mark('network prepared');
        // netavark runs while tsrun makes the cgroup and the container process sets up its
        // filesystem; the container execs only once both are done (the go waits)
        const t0 = performance.now();
        const setup = prepared.setup();
        setup.catch(() => {}); // awaited below; a failure before then must not be unhandled
        sendSpec(prepared.netns);
        const ready = performance.now();
        await setup;
        const done = performance.now();
        mark(`network set up: netavark ${(done - t0).toFixed(1)} ms, ${(ready - t0).toFixed(1)} ms of it hidden behind the container's own start`);
        launched = await launcher.complete();
      }
    }
    // the spec (a config.json; the record is the dir's config.json) for whoever wants to see what
    // ran, written once the container runs; not for a foreground --rm, whose dir goes when it exits
    // (a file written and deleted on every such run is a cost on this disk: see README, Status)
    if (opts.detach || !c.config.host.autoRemove) fs.writeFileSync(path.join(c.dir, 'spec.json'), spec);
  } catch (err) {
    launcher?.abort();
    if (c.config.host.network !== 'none' && c.config.host.network !== 'host') {
      const { teardownNetwork } = await import('../runtime/network/attach.js');
      teardownNetwork(ctx, c);
    }
    writeState(c, failedStartState(before, c.state, err));
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

/**
 * The record after a start that failed, as moby's containerStart leaves it: the status it had
 * (a container never started stays "created", ps "Created"; one that ran stays "exited" with its
 * times), State.Error set, and ExitCode 127/126 when the command cannot run, else the previous
 * non-zero one or 128 (moby's exitUnknown). The restart bookkeeping is what the start wrote.
 */
function failedStartState(before: ContainerState, now: ContainerState, err: unknown): ContainerState {
  const code = isTsrunError(err) && (err.code === 'EXEC_NOT_FOUND' || err.code === 'EXEC_DENIED') ? err.exitCode : before.exitCode || 128;
  return {
    ...now,
    status: before.status === 'created' ? 'created' : 'exited',
    startedAt: before.startedAt,
    finishedAt: before.finishedAt,
    exitCode: code,
    error: (err as Error).message,
    pid: undefined,
    pidStart: undefined,
    monitorPid: undefined,
    monitorStart: undefined,
  };
}
