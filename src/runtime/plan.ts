/**
 * The launch plan: everything tsrun-init needs, decided here. Encoded as
 * "key=value\0" records; records with several fields separate them with
 * 0x1f (native/init/plan.c is the reader; the two change together).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import type { Container } from '../containers/record.js';
import { TsrunError } from '../util/errors.js';
import { capabilitySet, capMask } from './caps.js';
import { compileSeccomp, readSeccompFile } from './seccomp.js';
import { defaultSeccompRecords, seccompRecords } from './seccomp-records.js';
import { fsOps, type FsOp } from './mounts.js';
import { cgroupFsOps, hostDeviceOps } from './host-mounts.js';
import { containerDevices, type DeviceRule } from './devices.js';
import { fileURLToPath } from 'node:url';
import { resolveUser } from './user.js';
import { kernelAtLeast } from '../util/builtins.js';
import { watchFields } from './watch-records.js';

/** bin/tsrun, from dist/src/runtime/plan.js (and the bundle, at the same depth): what --rm's monitor runs. */
const TSRUN_BIN = fileURLToPath(new URL('../../../bin/tsrun', import.meta.url));

const SEP = '\x1f';
const CLONE = { NEWNS: 0x20000, NEWCGROUP: 0x2000000, NEWUTS: 0x4000000, NEWIPC: 0x8000000, NEWPID: 0x20000000, NEWNET: 0x40000000 };

/** RLIMIT_* numbers (x86_64/arm64 generic) for docker's --ulimit names. */
export const RLIMITS: Record<string, number> = {
  cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7, memlock: 8, as: 9, locks: 10,
  sigpending: 11, msgqueue: 12, nice: 13, rtprio: 14, rttime: 15,
};

export class PlanWriter {
  private parts: string[] = [];
  add(key: string, ...fields: (string | number | bigint)[]): this {
    const value = fields.map(String).join(SEP);
    if (value.includes('\0')) throw new TsrunError('USAGE', `${key} contains a NUL byte`, { hint: 'arguments, env and paths cannot contain NUL' });
    if (fields.length > 1 && fields.some((f) => String(f).includes(SEP))) throw new TsrunError('USAGE', `${key} contains the byte 0x1f`);
    this.parts.push(`${key}=${value}\0`);
    return this;
  }
  /** Records already encoded and checked by the caller (see seccompRecords). */
  raw(records: string): this {
    this.parts.push(records);
    return this;
  }
  encode(): Buffer {
    return Buffer.from(this.parts.join(''), 'utf8');
  }

}

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

function addConfinement(w: PlanWriter, ctx: Ctx, c: Container, proc: ProcessSpec): void {
  const h = c.config.host;
  const caps = capabilitySet(h);
  w.add('caps', capMask(caps));
  if (h.noNewPrivileges) w.add('nnp', 1);
  if (h.seccomp === 'default' && !h.privileged) w.raw(defaultSeccompRecords(caps));
  else if (h.seccomp !== 'unconfined' && h.seccomp !== 'default') w.raw(seccompRecords(compileSeccomp(readSeccompFile(path.join(c.dir, h.seccomp)), caps)));
  for (const u of h.ulimits) {
    const n = RLIMITS[u.name];
    if (n === undefined) throw new TsrunError('USAGE', `unknown ulimit ${u.name}`);
    w.add('rlimit', n, u.soft, u.hard);
  }
  if (h.oomScoreAdj !== undefined) w.add('oomscoreadj', h.oomScoreAdj);
  const user = resolveUser(layerDirs(ctx, c), proc.user);
  w.add('uid', user.uid).add('gid', user.gid);
  for (const g of user.groups) w.add('group', g);
  let env = proc.env.some((e) => e.startsWith('HOME=')) ? proc.env : [...proc.env, `HOME=${user.home}`];
  // docker's daemon environment: HOSTNAME after PATH, unless -e or the image set it
  if (!env.some((e) => e.startsWith('HOSTNAME='))) env = [...env.slice(0, 1), `HOSTNAME=${c.config.hostname}`, ...env.slice(1)];
  for (const e of env) w.add('env', e);
  for (const a of proc.args) w.add('arg', a);
  w.add('cwd', proc.cwd || '/');
  if (proc.tty) w.add('tty', 1);
  if (proc.openStdin) w.add('stdin', 1);
  if (proc.detach) w.add('detach', 1);
}

function addOp(w: PlanWriter, o: FsOp): void {
  switch (o.op) {
    case 'mount':
      return void w.add('op', 'm', o.src, o.dst, o.fstype, o.flags, o.data);
    case 'mknod':
      if (o.uid !== undefined) return void w.add('op', 'n', o.dst, o.mode.toString(8), o.major, o.minor, o.uid, o.gid ?? 0);
      return void w.add('op', 'n', o.dst, o.mode.toString(8), o.major, o.minor);
    case 'symlink':
      return void w.add('op', 'l', o.target, o.dst);
    case 'mask':
      return void w.add('op', 'k', o.dst);
    case 'ropath':
      return void w.add('op', 'r', o.dst);
    case 'mkdir':
      return void w.add('op', 'd', o.dst);
  }
}

/**
 * --rm: the upper dir is thrown away at exit, so overlayfs need not sync it
 * (podman mounts --rm containers volatile too). Without it, the unmount when
 * the container's mount namespace dies runs syncfs on the whole filesystem of
 * the upper dir (here /): 1-100 ms on a busy disk, paid before the monitor can
 * even reap the container. A volatile mount leaves work/work/incompat/volatile
 * behind, which refuses the next mount (a restart), so that goes first.
 */
function volatileOverlay(dir: string): boolean {
  if (!kernelAtLeast('5.10')) return false; // volatile is Linux 5.10+
  const incompat = path.join(dir, 'work', 'work', 'incompat');
  if (fs.existsSync(incompat)) fs.rmSync(incompat, { recursive: true, force: true }); // only a restart has one
  return true;
}

/**
 * The first record of a run's plan, "clone=FLAGS": the namespaces of the
 * container process. tsrun writes it as it spawns the launcher, before it
 * creates the container, so that on a cgroup v1 host the launcher forks the
 * container process (new network namespace: 0.7-2 ms) meanwhile. Only
 * --network none gets a new one here: host keeps the host's, and the others
 * join a namespace made beforehand (runEarlyRecords' netns).
 */
export function runCloneRecord(network: string): Buffer {
  let flags = CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWCGROUP;
  if (network === 'none') flags |= CLONE.NEWNET;
  return new PlanWriter().add('clone', flags).encode();
}

/**
 * The early block of a run's plan, after its first record (runCloneRecord): what the container process needs to set
 * up its namespaces and filesystem (cgroup, network namespace to join, root overlay, mounts, hostname).
 * The launcher forks the container process as soon as it has it, which does
 * all that while the rest of the plan (runPlan: confinement and process) is
 * built.
 */
export function runEarlyRecords(ctx: Ctx, c: Container, cgroupProcs: string[], devicesDir: string | undefined, netns?: string): Buffer {
  const cfg = c.config;
  const w = new PlanWriter();
  for (const p of cgroupProcs) w.add('cgroup', p);
  // the network namespace tsrun made and netavark sets up (or another container's): joined by path
  if (netns) w.add('nsjoin', 'net', netns);
  const devices = containerDevices(cfg.host);
  addDevicePolicy(w, cfg.host.privileged, devices.rules, devicesDir);
  w.add('rootfs', path.join(c.dir, 'rootfs')).add('upper', path.join(c.dir, 'upper')).add('work', path.join(c.dir, 'work'));
  const lowers = cfg.layers.length ? cfg.layers.map((l) => ctx.layers.diffDir(l)).reverse() : [path.join(c.dir, 'empty')];
  for (const l of lowers) w.add('lower', l);
  for (const o of ['redirect_dir=off', 'metacopy=off', 'index=off']) w.add('ovl', o);
  if (cfg.host.autoRemove && volatileOverlay(c.dir)) w.add('ovl', 'volatile');
  if (cfg.host.network === 'none') w.add('lo', 1);
  w.add('hostname', cfg.hostname);
  // --device nodes after --privileged's copies of the host's: one of the same path replaces the copy
  const mapped = new Set(devices.ops.map((o) => o.dst));
  const hostDevices = cfg.host.privileged ? hostDeviceOps().filter((o) => !mapped.has(o.dst)) : [];
  const host = { cgroup: cgroupFsOps(cfg.host.privileged), devices: [...hostDevices, ...devices.ops] };
  for (const o of fsOps(cfg, c.dir, host)) addOp(w, o);
  if (cfg.host.readonlyRootfs) w.add('readonly', 1);
  return w.encode();
}

/**
 * "devices=all" (--privileged: every device, as docker), or "devices=DIR" and one "dev" record per
 * allowed access: tsrun-init denies every other device on that cgroup dir (native/init/devices.c).
 */
function addDevicePolicy(w: PlanWriter, privileged: boolean, rules: DeviceRule[], dir: string | undefined): void {
  if (privileged) return void w.add('devices', 'all');
  if (!dir) {
    throw new TsrunError('UNSUPPORTED', 'cannot confine device access: this host mounts no devices cgroup', {
      hint: 'mount the cgroup v1 devices controller under /sys/fs/cgroup, or use cgroup v2',
    });
  }
  w.add('devices', dir);
  const n = (x: number) => (x < 0 ? '*' : x);
  for (const r of rules) w.add('dev', r.type, n(r.major), n(r.minor), r.access);
}

/** The rest of a run's plan, after its early block (runEarlyRecords). */
export function runPlan(ctx: Ctx, c: Container, detach: boolean): Buffer {
  const cfg = c.config;
  const w = new PlanWriter().add('mode', 'run');
  w.add('exitfile', path.join(c.dir, 'exit.json'));
  w.add('log', path.join(c.dir, 'ctr.log')); // foreground runs are logged too, as docker's json-file driver does
  // --rm with nobody waiting: the monitor runs `tsrun rm -f` itself once the container exits
  if (detach && cfg.host.autoRemove) w.add('autorm', process.execPath, TSRUN_BIN, ctx.root, cfg.id);
  // a restart policy or a healthcheck: the monitor runs them (native/init/watch.c)
  const watch = watchFields(c, process.execPath, TSRUN_BIN, ctx.root, detach);
  if (watch) w.add('watch', ...watch);
  if (cfg.host.init) w.add('init', 1);
  addConfinement(w, ctx, c, { args: [cfg.path, ...cfg.args], env: cfg.env, cwd: cfg.workingDir, user: cfg.user, tty: cfg.tty, openStdin: cfg.openStdin, detach });
  return w.encode();
}

export function execPlan(ctx: Ctx, c: Container, pid: number, cgroupProcs: string[], proc: ProcessSpec): Buffer {
  const w = new PlanWriter().add('mode', 'exec').add('pid', pid);
  const ns = ['ipc', 'uts', 'cgroup', 'mnt'];
  if (c.config.host.network !== 'host') ns.push('net');
  for (const n of ns) w.add('ns', n);
  for (const p of cgroupProcs) w.add('cgroup', p);
  addConfinement(w, ctx, c, proc);
  return w.encode();
}
