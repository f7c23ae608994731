/**
 * Cgroups of containers. Each container gets one cgroup named `tsrun-<id12>`
 * below $TSRUN_CGROUP_PARENT when set; else, on v1, directly below the cgroup
 * tsrun itself runs in (read from /proc/self/cgroup); on v2 below a parent that
 * holds no process (v2 hands controllers only to children of such cgroups):
 * the root when tsrun runs there, else /tsrun (docker's cgroupfs manager uses
 * /docker, podman's /libpod_parent). tsrun never creates cgroups anywhere else.
 * Resources (linux.resources) are written by the C mapping (applyResources).
 *
 * Both layouts are supported:
 *  - v2 (unified): /sys/fs/cgroup is cgroup2. One dir; controllers are enabled
 *    in the parent's subtree_control when the kernel allows it (it refuses while
 *    the parent holds processes; cgroup.kill and cgroup.freeze work without).
 *  - v1: one hierarchy per controller; the container gets a dir in each of
 *    pids, memory, cpu, cpuacct, freezer, devices, blkio, cpuset that is mounted.
 *
 * The location is computed in one place (`cgroupDirs`). tsrun's own cgroup is
 * not the same for every caller (here each login session has its own memory
 * cgroup), so createCgroup records the dirs it made in
 * ROOT/containers/ID/cgroup.json, and every function given the Ctx uses that
 * record: any tsrun process finds the cgroup of any container again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cgroupMountEntries } from '../util/mountinfo.js';
import type { Ctx } from '../context.js';
import { hasCode, syscallError, TsrunError } from '../util/errors.js';
import { native } from '../native.js';
import type { LinuxResources } from './resources.js';
import { readJsonIfExists, writeJsonReplace } from '../util/atomic.js';
import { os } from '../util/builtins.js';

const V1_CONTROLLERS = ['pids', 'memory', 'cpu', 'cpuacct', 'freezer', 'devices', 'blkio', 'cpuset'] as const;

interface Hierarchy {
  /** Mount point of the hierarchy. */
  mount: string;
  /** Controllers it carries (v1), empty for v2. */
  controllers: string[];
}

export interface CgroupLayout {
  version: 1 | 2;
  /** Directories of the container's cgroup: one for v2, one per mounted controller for v1. */
  dirs: string[];
  /** v1: controller → dir (freezer is needed for pause and kill). v2: '' → dir. */
  byController: Map<string, string>;
}

/** cgroup hierarchies from /proc/self/mountinfo. */
function cgroupMounts(): { v2?: string; v1: Hierarchy[] } {
  const v1: Hierarchy[] = [];
  let v2: string | undefined;
  for (const { mountPoint: mount, fstype, superOptions } of cgroupMountEntries()) {
    if (fstype === 'cgroup2' && mount === '/sys/fs/cgroup') v2 = mount;
    if (fstype === 'cgroup') {
      const controllers = superOptions.filter((o) => (V1_CONTROLLERS as readonly string[]).includes(o));
      if (controllers.length) v1.push({ mount, controllers });
    }
  }
  return { v2, v1 };
}

/** controller list ("memory", "cpu,cpuacct", "" for v2) → path of tsrun's own cgroup. */
function ownCgroups(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const c of m[1]!.split(',')) out.set(c, m[2]!);
  }
  return out;
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

/** The single place that decides where a new container cgroup goes. */
function computeDirs(id: string): CgroupLayout {
  const override = process.env.TSRUN_CGROUP_PARENT;
  const own = ownCgroups();
  const mounts = cgroupMounts();
  const name = cgroupName(id);
  const byController = new Map<string, string>();
  if (mounts.v2) {
    // the containers' parent must hold no process to hand controllers down (v2's rule), so it is
    // never tsrun's own cgroup unless that is the root (which may): docker's cgroupfs uses /docker
    const ownV2 = own.get('') ?? '/';
    const parent = override ?? (ownV2 === '/' ? '/' : '/tsrun');
    const dir = path.join(mounts.v2, parent, name);
    byController.set('', dir);
    return { version: 2, dirs: [dir], byController };
  }
  const dirs: string[] = [];
  for (const h of mounts.v1) {
    const parent = override ?? own.get(h.controllers[0]!) ?? '/';
    const dir = path.join(h.mount, parent, name);
    dirs.push(dir);
    for (const c of h.controllers) byController.set(c, dir);
  }
  return { version: 1, dirs, byController };
}

function readTrim(file: string): string {
  return fs.readFileSync(file, 'utf8').trim();
}

/** cpuset starts with empty cpus/mems in a new v1 cgroup; a process cannot join until they are set. */
function initCpuset(dir: string): void {
  for (const f of ['cpuset.cpus', 'cpuset.mems']) {
    const mine = path.join(dir, f);
    if (readTrim(mine) !== '') continue;
    // walk up until a parent has a value (intermediate dirs made by TSRUN_CGROUP_PARENT may be empty too)
    const chain: string[] = [];
    let d = path.dirname(dir);
    while (d.length > 1 && readTrim(path.join(d, f)) === '') {
      chain.unshift(d);
      d = path.dirname(d);
    }
    const value = readTrim(path.join(d, f));
    for (const c of [...chain, dir]) fs.writeFileSync(path.join(c, f), value);
  }
}

/** The v2 controllers each part of linux.resources needs. */
function v2ControllersFor(res: LinuxResources): string[] {
  const out: string[] = [];
  if (res.memory) out.push('memory');
  if (res.cpu && (res.cpu.shares || res.cpu.quota || res.cpu.period)) out.push('cpu');
  if (res.cpu && (res.cpu.cpus || res.cpu.mems)) out.push('cpuset');
  if (res.pids) out.push('pids');
  if (res.blockIO) out.push('io');
  return out;
}

/**
 * v2: hand the controllers down from the hierarchy's root to the container's
 * dir (each cgroup on the way must list them in cgroup.subtree_control). The
 * kernel refuses that in a cgroup that holds processes ("no internal
 * processes"), which is why the containers' parent must hold none (computeDirs).
 * A refusal is left for the write that needs the controller to report, naming it.
 */
function enableV2Controllers(dir: string, controllers: string[]): void {
  if (!controllers.length) return;
  const root = '/sys/fs/cgroup';
  const chain: string[] = [];
  for (let d = path.dirname(dir); d.startsWith(root); d = path.dirname(d)) {
    chain.unshift(d);
    if (d === root) break;
  }
  for (const d of chain) {
    let enabled: string[];
    try {
      enabled = readTrim(path.join(d, 'cgroup.subtree_control')).split(/\s+/);
    } catch {
      return;
    }
    const missing = controllers.filter((c) => !enabled.includes(c));
    if (!missing.length) continue;
    try {
      fs.writeFileSync(path.join(d, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
    } catch {
      return; // EBUSY (processes in d) or ENOENT (not available): cgroupApply says which controller is missing
    }
  }
}

/**
 * Write OCI linux.resources into the container's cgroup: the C mapping of
 * native/cgroup/ (the one tsrun-runtime uses), through the addon. Used when
 * the cgroup is made (before the container's process joins it) and by update.
 */
export function applyResources(layout: { version: 1 | 2; dirs: string[] }, res: LinuxResources): void {
  if (!Object.keys(res).length) return;
  if (layout.version === 2) enableV2Controllers(layout.dirs[0]!, v2ControllersFor(res));
  try {
    native().cgroupApply(layout.version, layout.dirs, JSON.stringify(res));
  } catch (err) {
    throw new TsrunError('SYSCALL', (err as Error).message, { hint: 'see "Resource limits" in the README for what this host supports' });
  }
}

/**
 * Make the container's cgroup; returns its dirs, the cgroup.procs files its init must join and
 * the dir whose device access tsrun-init restricts (v1: the devices hierarchy's; none without one).
 */
export function createCgroup(ctx: Ctx, id: string, res: LinuxResources = {}): { dirs: string[]; procsFiles: string[]; devicesDir?: string } {
  const layout = computeDirs(id);
  if (ctx?.containersDir && fs.existsSync(path.join(ctx.containersDir, id))) {
    const rec: RecordedLayout = { version: layout.version, dirs: layout.dirs, byController: [...layout.byController] };
    writeJsonReplace(recordFile(ctx, id), rec);
  }
  const procsFiles: string[] = [];
  for (const dir of layout.dirs) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      if (layout.version === 1 && dir === layout.byController.get('cpuset')) initCpuset(dir);
    } catch (err) {
      throw syscallError(`cannot create cgroup ${dir}`, err);
    }
    procsFiles.push(path.join(dir, 'cgroup.procs'));
  }
  try {
    applyResources(layout, res);
  } catch (err) {
    removeCgroupDirs(layout.dirs, 1000);
    throw err;
  }
  return { dirs: layout.dirs, procsFiles, devicesDir: layout.version === 2 ? layout.dirs[0] : layout.byController.get('devices') };
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
  const pids = new Set<number>();
  for (const dir of cgroupDirs(id, ctx).dirs) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8');
    } catch (err) {
      if (hasCode(err, 'ENOENT')) continue;
      throw err;
    }
    for (const l of text.split('\n')) if (l.trim()) pids.add(Number(l));
  }
  return [...pids].sort((a, b) => a - b);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function freezerDir(layout: CgroupLayout): string | undefined {
  return layout.version === 2 ? layout.dirs[0] : layout.byController.get('freezer');
}

function isFrozen(layout: CgroupLayout, dir: string): boolean {
  if (layout.version === 1) return readTrim(path.join(dir, 'freezer.state')) === 'FROZEN';
  return /^frozen 1$/m.test(fs.readFileSync(path.join(dir, 'cgroup.events'), 'utf8'));
}

/** Freeze every process of the container and wait until the kernel says it is frozen. */
export function freezeCgroup(id: string, ctx: Ctx, timeoutMs = 5000): void {
  const layout = cgroupDirs(id, ctx);
  const dir = freezerDir(layout);
  if (!dir || !fs.existsSync(dir)) throw syscallError(`cannot freeze container ${id.slice(0, 12)}`, Object.assign(new Error('no freezer cgroup'), { code: 'ENOENT' }));
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      // v1 can get stuck in FREEZING if a task is in uninterruptible sleep; writing FROZEN again retries
      if (layout.version === 1) fs.writeFileSync(path.join(dir, 'freezer.state'), 'FROZEN');
      else fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '1');
      if (isFrozen(layout, dir)) return;
      if (Date.now() > deadline) break;
      sleepMs(10);
    }
  } catch (err) {
    throw syscallError(`cannot freeze cgroup ${dir}`, err);
  }
  thawCgroup(id, ctx);
  throw syscallError(`cannot freeze cgroup ${dir}`, Object.assign(new Error('timed out waiting for the freezer'), { code: 'ETIMEDOUT' }));
}

export function thawCgroup(id: string, ctx: Ctx): void {
  const layout = cgroupDirs(id, ctx);
  const dir = freezerDir(layout);
  if (!dir || !fs.existsSync(dir)) return;
  try {
    if (layout.version === 1) fs.writeFileSync(path.join(dir, 'freezer.state'), 'THAWED');
    else fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '0');
  } catch (err) {
    if (!hasCode(err, 'ENOENT')) throw syscallError(`cannot thaw cgroup ${dir}`, err);
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
  const dir = freezerDir(layout);
  if (!dir) return undefined;
  try {
    if (layout.version === 1) return readTrim(path.join(dir, 'freezer.state')) !== 'THAWED';
    return readTrim(path.join(dir, 'cgroup.freeze')) === '1';
  } catch {
    return undefined;
  }
}

/** True when the container's freezer says frozen. */
export function cgroupFrozen(id: string, ctx: Ctx): boolean {
  const layout = cgroupDirs(id, ctx);
  const dir = freezerDir(layout);
  try {
    return !!dir && isFrozen(layout, dir);
  } catch {
    return false;
  }
}

function signalNumber(signal: NodeJS.Signals | number): number {
  return typeof signal === 'number' ? signal : (os().constants.signals[signal] ?? 9);
}

/**
 * Signal every process in the container's cgroup. Frozen first (v1, and v2
 * without cgroup.kill) so nothing can fork a new process between listing and
 * signalling; the signal is delivered on thaw.
 */
export function killCgroup(id: string, signal: NodeJS.Signals | number, ctx: Ctx): void {
  const layout = cgroupDirs(id, ctx);
  const signo = signalNumber(signal);
  if (layout.version === 2 && signo === 9) {
    const killFile = path.join(layout.dirs[0]!, 'cgroup.kill');
    if (fs.existsSync(killFile)) {
      fs.writeFileSync(killFile, '1');
      return;
    }
  }
  if (!cgroupExists(id, ctx)) return;
  const wasFrozen = cgroupFrozen(id, ctx);
  let frozen = false;
  try {
    freezeCgroup(id, ctx);
    frozen = true;
  } catch {
    /* no freezer: signal anyway, racing with forks */
  }
  try {
    for (const pid of cgroupPids(id, ctx)) {
      try {
        process.kill(pid, signo);
      } catch (err) {
        if (!hasCode(err, 'ESRCH')) throw err;
      }
    }
  } finally {
    // a paused container stays paused for other signals; SIGKILL must thaw or nothing dies
    if (frozen && (!wasFrozen || signo === 9)) thawCgroup(id, ctx);
  }
}

/** Remove the container's cgroup dirs; tolerates missing dirs, retries briefly while busy (processes still dying). */
export function removeCgroup(id: string, ctx: Ctx, timeoutMs = 3000): void {
  removeCgroupDirs(cgroupDirs(id, ctx).dirs, timeoutMs);
}

/** rmdir a container's cgroup dirs, waiting up to timeoutMs while one is busy (v1 may still count a dying task). */
export function removeCgroupDirs(dirs: string[], timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (const dir of dirs) {
    for (;;) {
      try {
        fs.rmdirSync(dir);
        break;
      } catch (err) {
        if (hasCode(err, 'ENOENT')) break;
        if (hasCode(err, 'EBUSY') && Date.now() < deadline) {
          sleepMs(20);
          continue;
        }
        throw syscallError(`cannot remove cgroup ${dir}`, err);
      }
    }
  }
}
