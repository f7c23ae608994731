/**
 * Cgroups of containers, TypeScript's side of the one cgroup manager: the C
 * code in native/cgroup/manager.c + resolve.c (through the addon, in-process) that
 * tsrun-init and tsrun-runtime use too creates, freezes, signals and removes
 * cgroups on v1 and v2; native/cgroup/resources_*.c write linux.resources.
 * What stays here: where a container's cgroup goes (cgroupsPathFor: its
 * linux.cgroupsPath) and the record of where it went.
 *
 * Each container gets one cgroup named `tsrun-<id12>` below
 * $TSRUN_CGROUP_PARENT when set; else, on v1, directly below the cgroup tsrun
 * itself runs in, in each hierarchy of pids, memory, cpu, cpuacct, freezer,
 * devices, blkio, cpuset that is mounted; on v2 below a parent that holds no
 * process (v2 hands controllers only to children of such cgroups). tsrun never
 * creates cgroups anywhere else.
 *
 * tsrun's own cgroup is not the same for every caller (here each login
 * session has its own memory cgroup), so planCgroup records the dirs in
 * ROOT/containers/ID/cgroup.json before they are made, and every function
 * given the Ctx uses that record: any tsrun process finds the cgroup of any
 * container again.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { hasCode, TsrunError } from '../util/errors.js';
import { native } from '../native.js';
import type { LinuxResources } from './resources.js';
import { readJsonIfExists, writeJsonReplace } from '../util/atomic.js';
import { os } from '../util/builtins.js';

export interface CgroupLayout {
  version: 1 | 2;
  /** Directories of the container's cgroup: one for v2, one per mounted controller for v1. */
  dirs: string[];
  /** v1: controller → dir (freezer is needed for pause and kill). v2: '' → dir. */
  byController: Map<string, string>;
}

function cgroupName(id: string): string {
  return `tsrun-${id.slice(0, 12)}`;
}

interface RecordedLayout {
  version: 1 | 2;
  dirs: string[];
  byController: [string, string][];
}

function recordFile(ctx: Ctx, id: string): string {
  return path.join(ctx.containersDir, id, 'cgroup.json');
}

/**
 * Where the container's cgroup lives: as recorded in cgroup.json at creation.
 * Recomputing is only right in the session that created it (this machine gives
 * each login session its own memory cgroup), so it is the fallback for a
 * record that has none.
 */
export function cgroupDirs(id: string, ctx: Ctx): CgroupLayout {
  {
    let rec: RecordedLayout | undefined;
    try {
      rec = readJsonIfExists<RecordedLayout>(recordFile(ctx, id));
    } catch {
      rec = undefined;
    }
    if (rec && Array.isArray(rec.dirs)) {
      // only dirs below a cgroup mount named tsrun-<id12>: the record is ours, but never trust a path blindly
      const name = cgroupName(id);
      const ok = (d: string) => d.startsWith('/sys/fs/cgroup/') && path.basename(d) === name && !d.includes('/../');
      return { version: rec.version, dirs: rec.dirs.filter(ok), byController: new Map(rec.byController.filter(([, d]) => ok(d))) };
    }
  }
  return computeDirs(id);
}

/**
 * Read API for commands that look at a container's cgroup without changing it
 * (stats, update, top): its version and dirs as recorded in
 * ROOT/containers/ID/cgroup.json when it was made; undefined when the container
 * never had one recorded (created, never started) or none of its dirs exists now.
 */
export function containerCgroup(ctx: Ctx, id: string): CgroupLayout | undefined {
  let rec: RecordedLayout | undefined;
  try {
    rec = readJsonIfExists<RecordedLayout>(recordFile(ctx, id));
  } catch {
    return undefined;
  }
  if (!rec || !Array.isArray(rec.dirs)) return undefined;
  const layout = cgroupDirs(id, ctx);
  return layout.dirs.some((d) => fs.existsSync(d)) ? layout : undefined;
}

/**
 * The dir holding a controller's files: v2 has one dir for all ('memory', 'cpu',
 * 'io', 'pids' …); v1 the dir in that controller's hierarchy ('memory', 'cpuacct',
 * 'blkio', 'pids' …), undefined when that hierarchy is not mounted.
 */
export function controllerDir(layout: CgroupLayout, controller: string): string | undefined {
  return layout.version === 2 ? layout.dirs[0] : layout.byController.get(controller);
}

/**
 * linux.cgroupsPath of a container (runc's cgroupfs rules: absolute from each
 * hierarchy's root, relative from the caller's own cgroup): the one place that
 * decides where a new container cgroup goes. $TSRUN_CGROUP_PARENT/tsrun-<id12>;
 * else on v1 `tsrun-<id12>` below tsrun's own cgroup in each hierarchy; on v2
 * below a cgroup that holds no process (v2 hands controllers only to children
 * of such cgroups): the root when tsrun runs there, else /tsrun (docker's
 * cgroupfs manager uses /docker, podman's /libpod_parent).
 */
export function cgroupsPathFor(id: string): string {
  const name = cgroupName(id);
  const override = process.env.TSRUN_CGROUP_PARENT;
  if (override) return path.posix.join('/', override, name);
  if (fs.statfsSync('/sys/fs/cgroup').type !== CGROUP2_SUPER_MAGIC) return name;
  const own = /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/';
  return own === '/' ? `/${name}` : `/tsrun/${name}`;
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** Where cgroupsPath lives on this host, by the C manager (the resolution tsrun-init and tsrun-runtime make). */
function computeDirs(id: string, cgroupsPath = cgroupsPathFor(id)): CgroupLayout {
  const r = native().cgroupResolve(cgroupsPath, false);
  const byController = new Map<string, string>();
  r.dirs.forEach((dir, i) => {
    for (const c of r.controllers[i]!.split(',')) byController.set(c, dir);
  });
  return { version: r.version, dirs: r.dirs, byController };
}

/**
 * A new container's cgroup: where it goes (cgroupsPathFor, resolved by the C
 * manager), recorded in ROOT/containers/ID/cgroup.json before anything is made
 * (a tsrun killed after this leaves a record that finds it). tsrun-init makes
 * it from the spec (linux.cgroupsPath, linux.resources); the dirs ride along in
 * the spec's io.tsrun.cgroup.dirs so the launcher need not resolve them again.
 */
export function planCgroup(ctx: Ctx, id: string): { cgroupsPath: string; layout: CgroupLayout; devicesDir?: string } {
  const cgroupsPath = cgroupsPathFor(id);
  const layout = computeDirs(id, cgroupsPath);
  if (fs.existsSync(path.join(ctx.containersDir, id))) {
    const rec: RecordedLayout = { version: layout.version, dirs: layout.dirs, byController: [...layout.byController] };
    writeJsonReplace(recordFile(ctx, id), rec);
  }
  return { cgroupsPath, layout, devicesDir: layout.version === 2 ? layout.dirs[0] : layout.byController.get('devices') };
}

/** A cgroup manager error → TsrunError: its message is the manager's one line, naming what failed. */
function cgroupError(err: unknown, what?: string): TsrunError {
  const code = (err as NodeJS.ErrnoException).code;
  const message = what ? `${what}: ${(err as Error).message}` : (err as Error).message;
  if (code === 'EPERM' || code === 'EACCES') return new TsrunError('PERMISSION', message, { hint: 'tsrun needs to run as root', cause: err });
  return new TsrunError('SYSCALL', message, { hint: 'see "Resource limits" in the README for what this host supports', cause: err });
}

/**
 * Write OCI linux.resources into the container's cgroup: the C mapping of
 * native/cgroup/ (the one tsrun-init and tsrun-runtime use), through the
 * addon. Used by update (a start's limits are written by tsrun-init, from the spec).
 */
export function applyResources(layout: { version: 1 | 2; dirs: string[] }, res: LinuxResources): void {
  if (!Object.keys(res).length) return;
  try {
    native().cgroupApply(layout.version, layout.dirs, JSON.stringify(res));
  } catch (err) {
    throw cgroupError(err);
  }
}

/**
 * Make the container's cgroup with its limits here, in tsrun's process (a
 * launcher that is not tsrun-init, e.g. the tests' fake one; tsrun's own
 * start has tsrun-init make it from the spec); returns its dirs and the
 * cgroup.procs files a process joins.
 */
export function createCgroup(ctx: Ctx, id: string, res: LinuxResources = {}): { dirs: string[]; procsFiles: string[]; devicesDir?: string } {
  const { layout, devicesDir } = planCgroup(ctx, id);
  try {
    native().cgroupCreate(layout.version, layout.dirs, JSON.stringify(res));
  } catch (err) {
    throw cgroupError(err);
  }
  return { dirs: layout.dirs, procsFiles: layout.dirs.map((d) => path.join(d, 'cgroup.procs')), devicesDir };
}

/**
 * How many processes of the container the OOM killer killed: v1 memory.oom_control's
 * oom_kill, v2 memory.events' oom_kill (what docker's OOMKilled comes from); 0 when
 * the cgroup or the counter is not there.
 */
export function cgroupOomKills(id: string, ctx: Ctx): number {
  const layout = cgroupDirs(id, ctx);
  const dir = controllerDir(layout, 'memory');
  if (!dir) return 0;
  try {
    const text = fs.readFileSync(path.join(dir, layout.version === 2 ? 'memory.events' : 'memory.oom_control'), 'utf8');
    return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** True when the container's cgroup exists somewhere. */
export function cgroupExists(id: string, ctx: Ctx): boolean {
  return cgroupDirs(id, ctx).dirs.some((d) => fs.existsSync(d));
}

/** PIDs in the container's cgroup (union over hierarchies; empty when it does not exist). */
export function cgroupPids(id: string, ctx: Ctx): number[] {
  const layout = cgroupDirs(id, ctx);
  try {
    return native().cgroupPids(layout.version, layout.dirs).sort((a, b) => a - b);
  } catch (err) {
    throw cgroupError(err);
  }
}

/** The dirs the freezer's files are in: v1 the freezer hierarchy's alone (ps asks each running container: one read, no search), v2 the one dir. */
function freezerDirs(layout: CgroupLayout): string[] {
  const d = layout.version === 1 ? layout.byController.get('freezer') : undefined;
  return d ? [d] : layout.dirs;
}

/** Freeze every process of the container and wait until the kernel says it is frozen (else thawed again, and an error). */
export function freezeCgroup(id: string, ctx: Ctx, timeoutMs = 5000): void {
  const layout = cgroupDirs(id, ctx);
  try {
    native().cgroupFreeze(layout.version, freezerDirs(layout), true, timeoutMs);
  } catch (err) {
    throw cgroupError(err, `cannot freeze container ${id.slice(0, 12)}`);
  }
}

export function thawCgroup(id: string, ctx: Ctx): void {
  const layout = cgroupDirs(id, ctx);
  try {
    native().cgroupFreeze(layout.version, freezerDirs(layout), false, 0);
  } catch (err) {
    if (!hasCode(err, 'ENOENT')) throw cgroupError(err);
  }
}

/**
 * Has anyone asked the container's freezer to freeze (v1 FREEZING or FROZEN,
 * v2 cgroup.freeze 1)? Unlike cgroupFrozen this also sees a freeze still in
 * progress, e.g. one whose tsrun was killed while the freezer worked.
 * undefined when there is no freezer to ask.
 */
export function freezeRequested(id: string, ctx: Ctx): boolean | undefined {
  const layout = cgroupDirs(id, ctx);
  const r = native().cgroupFrozen(layout.version, freezerDirs(layout), true);
  return r < 0 ? undefined : r === 1;
}

/** True when the container's freezer says frozen. */
export function cgroupFrozen(id: string, ctx: Ctx): boolean {
  const layout = cgroupDirs(id, ctx);
  return native().cgroupFrozen(layout.version, freezerDirs(layout), false) === 1;
}

function signalNumber(signal: NodeJS.Signals | number): number {
  return typeof signal === 'number' ? signal : (os().constants.signals[signal] ?? 9);
}

/**
 * Signal every process in the container's cgroup, by the C manager (the
 * kill-all of tsrun-runtime's `kill --all`): frozen first (v1, and v2 without
 * cgroup.kill) so nothing can fork between listing and signalling; a paused
 * container stays paused for any signal but SIGKILL.
 */
export function killCgroup(id: string, signal: NodeJS.Signals | number, ctx: Ctx): void {
  const layout = cgroupDirs(id, ctx);
  try {
    native().cgroupKill(layout.version, layout.dirs, signalNumber(signal));
  } catch (err) {
    throw cgroupError(err);
  }
}

/** Remove the container's cgroup dirs; tolerates missing dirs, retries briefly while busy (processes still dying). */
export function removeCgroup(id: string, ctx: Ctx, timeoutMs = 3000): void {
  const layout = cgroupDirs(id, ctx);
  removeCgroupDirs(layout.dirs, timeoutMs, layout.version);
}

/** rmdir a container's cgroup dirs, waiting up to timeoutMs while one is busy (v1 may still count a dying task). */
export function removeCgroupDirs(dirs: string[], timeoutMs: number, version: 1 | 2 = 1): void {
  try {
    native().cgroupRemove(version, dirs, timeoutMs);
  } catch (err) {
    throw cgroupError(err);
  }
}
