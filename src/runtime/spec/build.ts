/**
 * A container's OCI runtime spec (config.json, runtime-spec 1.2), built from
 * its record, the image config kept in it, and docker's defaults; tsrun-init
 * carries it out (native/init/spec*.c), and it is kept as
 * ROOT/containers/ID/spec.json (config.json there is tsrun's container record). What the spec has no field for goes into
 * io.tsrun.* annotations (annotations.ts; native/init/spec_tsrun.c reads
 * them). An exec is a spec too (execSpec): its process, the container's
 * namespaces joined by path, its seccomp profile.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../../context.js';
import type { Container } from '../../containers/record.js';
import { kernelAtLeast } from '../../util/builtins.js';
import { TsrunError } from '../../util/errors.js';
import { capabilitySet } from '../caps.js';
import { readSeccompFile } from '../seccomp.js';
import { A, annotate } from './annotations.js';
import { TSRUN_BIN } from '../tsrun-bin.js';
import { watchFields } from '../watch-records.js';
import { specDevices, specMounts, specPaths } from './mounts.js';
import { rootfsPropagation } from './propagation.js';
import { specProcess, type ProcessSpec } from './process.js';
import { specResources } from './resources.js';
import { defaultSpecSeccomp, SECCOMP_CACHE_DIR, specSeccomp } from './seccomp.js';
import { OCI_VERSION, type Spec, type SpecMount, type SpecNamespace, type SpecSeccomp } from './types.js';

/**
 * linux.namespaces of a run: new ones, and the network one joined by path
 * (netns: the namespace tsrun made and netavark set up, or another
 * container's). host keeps the host's network namespace. userns: the record's usernsMode
 * (--uidmap: a new user namespace; ns:PATH: that one joined; host or absent: none).
 */
export function specNamespaces(network: string, netns?: string, userns?: string): SpecNamespace[] {
  const ns: SpecNamespace[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
  if (network === 'none') ns.push({ type: 'network' });
  else if (netns) ns.push({ type: 'network', path: netns });
  if (userns === 'private') ns.push({ type: 'user' });
  else if (userns?.startsWith('ns:')) ns.push({ type: 'user', path: userns.slice(3) });
  return ns;
}

type HostConfig = Container['config']['host'];

const hasUserns = (h: HostConfig) => h.usernsMode === 'private' || !!h.usernsMode?.startsWith('ns:');

/**
 * In a user namespace a cgroup v1 hierarchy cannot be mounted: /sys/fs/cgroup is left out (as runc
 * does); nor can sysfs when the network namespace is not the user namespace's own (a joined one,
 * made by the host's root): /sys is then the host's, bound read-only (runc's fallback).
 */
function usernsMounts(h: HostConfig, mounts: SpecMount[]): SpecMount[] {
  if (!hasUserns(h)) return mounts;
  return mounts
    .filter((m) => m.type !== 'cgroup')
    .map((m) => (m.type === 'sysfs' && h.network !== 'none' ? { destination: m.destination, type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] } : m));
}

function seccomp(c: Container, caps: string[]): SpecSeccomp | undefined {
  const h = c.config.host;
  if (h.seccomp === 'unconfined' || (h.seccomp === 'default' && h.privileged)) return undefined;
  if (h.seccomp === 'default') return defaultSpecSeccomp(caps);
  return specSeccomp(readSeccompFile(path.join(c.dir, h.seccomp)), caps);
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

export interface RunLaunch {
  detach: boolean;
  /**
   * The container's cgroup: linux.cgroupsPath, the dirs it resolves to here (one per v1
   * hierarchy, or the v2 one; tsrun-init makes them), and the dir its device rules go on.
   */
  cgroupsPath: string;
  cgroupDirs: string[];
  devicesDir?: string;
  /** a network namespace to join (see specNamespaces) */
  netns?: string;
  /** a foreground run's detach keys (bytes), for its terminal (-it) */
  detachKeys?: number[];
  /**
   * A foreground start of an -i container, as docker's `start`: 'none' (-a without -i: our stdin
   * is not the container's), 'keep' (-ai without StdinOnce: our stdin's end leaves its pipe open).
   */
  stdinAttach?: 'none' | 'keep';
}

/**
 * The attach socket (native/init/attach.c), for every start but a foreground
 * `--rm` one without -i or -t: `run --rm IMAGE CMD` is the start-up path that
 * is measured, and nobody attaches to what is gone as soon as it ends.
 */
function attachSocket(c: Container, detach: boolean): string | undefined {
  const cfg = c.config;
  return detach || cfg.tty || cfg.openStdin || !cfg.host.autoRemove ? path.join(c.dir, 'attach') : undefined;
}

/** The spec of a container's start. */
export function containerSpec(ctx: Ctx, c: Container, launch: RunLaunch): Spec {
  const cfg = c.config;
  const h = cfg.host;
  if (!h.privileged && !launch.devicesDir) {
    throw new TsrunError('UNSUPPORTED', 'cannot confine device access: this host mounts no devices cgroup', {
      hint: 'mount the cgroup v1 devices controller under /sys/fs/cgroup, or use cgroup v2',
    });
  }
  const devices = specDevices(cfg);
  const caps = capabilitySet(h);
  const lowers = cfg.layers.length ? cfg.layers.map((l) => ctx.layers.diffDir(l)).reverse() : [path.join(c.dir, 'empty')];
  const ovl = ['redirect_dir=off', 'metacopy=off', 'index=off', ...(h.autoRemove && volatileOverlay(c.dir) ? ['volatile'] : [])];
  const sc = seccomp(c, caps);
  // a foreground -it run the detach keys turn into a detached one (native/init/monitor.c)
  const keys = !launch.detach && cfg.tty && cfg.openStdin && launch.detachKeys?.length ? Buffer.from(launch.detachKeys).toString('hex') : undefined;
  const rootProp = rootfsPropagation(h.mounts);
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    root: { path: path.join(c.dir, 'rootfs'), readonly: h.readonlyRootfs },
    hostname: cfg.hostname,
    process: specProcess(ctx, c, { args: [cfg.path, ...cfg.args], env: cfg.env, cwd: cfg.workingDir, user: cfg.user, tty: cfg.tty, openStdin: cfg.openStdin, detach: launch.detach }),
    mounts: usernsMounts(h, specMounts(cfg, c.dir)),
    linux: {
      namespaces: specNamespaces(h.network, launch.netns, h.usernsMode),
      ...(h.uidMaps ? { uidMappings: h.uidMaps, gidMappings: h.gidMaps } : {}),
      ...(h.sysctls ? { sysctl: h.sysctls } : {}),
      devices: devices.devices,
      resources: specResources(cfg, devices.rules),
      cgroupsPath: launch.cgroupsPath,
      ...(sc ? { seccomp: sc } : {}),
      ...specPaths(cfg),
      ...(rootProp ? { rootfsPropagation: rootProp } : {}),
    },
    annotations: annotate({
      [A.upper]: path.join(c.dir, 'upper'),
      [A.work]: path.join(c.dir, 'work'),
      [A.lowers]: lowers,
      [A.overlayOptions]: ovl,
      [A.cgroupDirs]: launch.cgroupDirs,
      [A.cgroupDevices]: h.privileged ? undefined : launch.devicesDir,
      [A.exitFile]: path.join(c.dir, 'exit.json'),
      [A.log]: path.join(c.dir, 'ctr.log'), // foreground runs are logged too, as docker's json-file driver does
      // --rm with nobody waiting (detached, or once detached): the monitor runs `tsrun rm -f` itself once the container exits
      [A.autoRemove]: (launch.detach || keys) && h.autoRemove ? [process.execPath, TSRUN_BIN, ctx.root, cfg.id] : undefined,
      [A.init]: h.init,
      [A.stdin]: cfg.openStdin,
      [A.stdinAttach]: !launch.detach && cfg.openStdin ? launch.stdinAttach : undefined,
      [A.detach]: launch.detach,
      [A.seccompCache]: sc ? SECCOMP_CACHE_DIR : undefined,
      // a restart policy or a healthcheck: the monitor runs them (native/init/watch.c)
      [A.watch]: watchFields(c, process.execPath, TSRUN_BIN, ctx.root, launch.detach)?.map(String),
      [A.attach]: attachSocket(c, launch.detach),
      [A.detachKeys]: keys,
    }),
  };
  return spec;
}

/**
 * An exec's spec: its process in the running container (host PID pid), whose namespaces it joins.
 * `detachKeys`: an `exec -it`'s, which let the caller go and leave the process running (docker's).
 */
export function execSpec(ctx: Ctx, c: Container, pid: number, procsFiles: string[], proc: ProcessSpec, detachKeys?: number[]): Spec {
  const ns: SpecNamespace['type'][] = ['pid', 'ipc', 'uts', 'cgroup', 'mount'];
  if (c.config.host.network !== 'host') ns.push('network');
  // the container's user namespace (new or joined), which the exec joins first
  if (hasUserns(c.config.host)) ns.push('user');
  const file: Record<string, string> = { pid: 'pid', ipc: 'ipc', uts: 'uts', cgroup: 'cgroup', mount: 'mnt', network: 'net', user: 'user' };
  const sc = seccomp(c, capabilitySet(c.config.host));
  return {
    ociVersion: OCI_VERSION,
    process: specProcess(ctx, c, proc),
    linux: {
      namespaces: ns.map((type) => ({ type, path: `/proc/${pid}/ns/${file[type]}` })),
      ...(sc ? { seccomp: sc } : {}),
    },
    annotations: annotate({
      [A.cgroupProcs]: procsFiles,
      [A.stdin]: proc.openStdin,
      [A.detach]: proc.detach,
      [A.seccompCache]: sc ? SECCOMP_CACHE_DIR : undefined,
      [A.detachKeys]: !proc.detach && proc.tty && proc.openStdin && detachKeys?.length ? Buffer.from(detachKeys).toString('hex') : undefined,
    }),
  };
}

/**
 * The spec as JSON text, what config.json holds and the launcher reads. 2^64-1
 * (RLIM_INFINITY, process.rlimits' unlimited) is not a JS number: stringify
 * writes the nearest double, put back here as the exact literal.
 */
export function specJson(spec: Spec): string {
  return JSON.stringify(spec).replace(/(?<=[:,[])18446744073709552000(?=[,\]}])/g, '18446744073709551615');
}
