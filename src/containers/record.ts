/**
 * Container records. ROOT/containers/ID/ holds
 *   config.json   ContainerConfig: what the container is (fixed at create; rename changes name)
 *   state.json    ContainerState: where it is in its life (written atomically at each transition)
 *   upper/ work/  the overlay upper and work dirs: the container's changes
 *   rootfs/       mount point of the merged root filesystem while it runs
 *   hostname hosts resolv.conf   bind-mounted into the container, never part of a commit
 *   network.json  while its network is set up: the namespace, addresses, ports and netavark's setup JSON (teardown's record)
 *   ctr.log       output of a detached container (json-lines: {stream,time,log})
 *   exit.json     written by the monitor (tsrun-init) when the process ends: { exitCode, signal?, finishedAt }
 *
 * Status machine: created → running ⇄ paused → exited (→ running again by start/restart) ; removal deletes the dir.
 * The true status of a "running" record is refreshed from the kernel (is the monitor pid alive, did it
 * write exit.json) by `refresh` in src/containers/status.ts before any verb acts on it.
 */
import type { Resources } from '../runtime/resources.js';
import fs from 'node:fs';
import path from 'node:path';
import { TsrunError } from '../util/errors.js';
import { readdirIfExists, readJsonIfExists, writeJsonReplace } from '../util/atomic.js';
import type { Ctx } from '../context.js';
import { randomHex } from '../util/builtins.js';
import type { DeviceMapping } from '../runtime/devices.js';
import type { PortBinding } from '../runtime/network/ports.js';
import type { DnsFlags } from '../runtime/network/etcfiles.js';
import type { RestartPolicy, RestartState } from './restart-policy.js';
import type { HealthConfig } from '../oci/types.js';

export type Status = 'created' | 'running' | 'paused' | 'exited';

/**
 * One mount of the container, in a form any launcher path can use (the
 * key=value plan, an OCI spec's `mounts`): a volume is a bind of `source`
 * (its ROOT/volumes/NAME/_data) unless `device` says how to mount it.
 */
export interface Mount {
  type: 'bind' | 'tmpfs' | 'volume';
  /** bind: the host path; volume: the host dir bound (set when the volume is resolved at create) */
  source?: string;
  destination: string;
  readonly?: boolean;
  /** tmpfs: mount options (size=, mode=) */
  options?: string[];
  /** volume: its name in the volume store */
  name?: string;
  /** volume made for this container (-v /path, --mount without source, an image VOLUME): rm -v and --rm remove it */
  anonymous?: boolean;
  /** bind propagation as asked; docker's default is rprivate */
  propagation?: 'shared' | 'slave' | 'private' | 'rshared' | 'rslave' | 'rprivate';
  /** -v's MODE as given ("ro,z"): docker's MountPoint.Mode */
  mode?: string;
  /** volume: do not copy the image's content into it */
  noCopy?: boolean;
  /** a volume with local-driver options other than a bind: mounted as this in the container instead of bound */
  device?: { fstype: string; source: string; data: string };
  /** --mount type=volume's volume-label/volume-opt: used when this create makes the volume */
  create?: { labels?: Record<string, string>; options?: Record<string, string> };
  /** where it came from: HostConfig.Binds lists -v's, HostConfig.Mounts --mount's */
  from?: '-v' | '--mount' | '--tmpfs' | 'image' | 'volumes-from';
  /** -v's argument as given (HostConfig.Binds) */
  spec?: string;
}

export interface ContainerConfig {
  id: string;
  name: string;
  created: string;
  /** What the user asked for (e.g. "busybox"), shown by ps. */
  image: string;
  /** Config digest of the image. */
  imageId: string;
  /** Chain IDs of the image's layers, bottom first: the overlay lower dirs (reversed). */
  layers: string[];
  /** Process: the resolved argv (entrypoint + cmd), env, cwd, user. */
  path: string;
  args: string[];
  env: string[];
  workingDir: string;
  user: string;
  hostname: string;
  tty: boolean;
  openStdin: boolean;
  /**
   * docker's Config.AttachStdin/Stdout/Stderr and StdinOnce (absent in what an older tsrun made):
   * what `run`/`create` attach (stdin with -i, stdout and stderr unless -d); StdinOnce is -i attached,
   * and makes the end of an attach's stdin the end of the container's (native/init/attach.c).
   */
  attachStdin?: boolean;
  attachStdout?: boolean;
  attachStderr?: boolean;
  stdinOnce?: boolean;
  stopSignal: string;
  stopTimeout?: number;
  labels: Record<string, string>;
  /** The healthcheck (the image's merged with --health-*; Test ["NONE"]: none), docker's Config.Healthcheck. */
  healthcheck?: HealthConfig;
  /** docker's Config.Shell: the image's SHELL, through which a CMD-SHELL healthcheck runs (absent: /bin/sh -c). */
  shell?: string[];
  /** docker's Config.Volumes: the image's VOLUME paths and -v's anonymous ones. */
  volumes?: string[];
  /** Host-level settings (docker's HostConfig). */
  host: {
    autoRemove: boolean;
    /** --restart (absent: no); see restart-policy.ts */
    restartPolicy?: RestartPolicy;
    mounts: Mount[];
    /** --volumes-from as given (CTR[:ro|rw]) */
    volumesFrom?: string[];
    readonlyRootfs: boolean;
    /** none, host, container:ID, or a network's name (bridge: the default) */
    network: string;
    /** networks attached with `network connect` besides `network` */
    extraNetworks?: string[];
    /** -p / -P (host port 0: a random one, chosen at each start) */
    portBindings?: PortBinding[];
    publishAll?: boolean;
    /** --ip on the first network */
    ip?: string;
    /** --network-alias: names besides the container's name and short ID on its first network (user networks only) */
    networkAliases?: string[];
    dns?: DnsFlags;
    /** --add-host NAME:IP */
    extraHosts?: { name: string; ip: string }[];
    privileged: boolean;
    capAdd: string[];
    capDrop: string[];
    noNewPrivileges: boolean;
    /** 'default' | 'unconfined' | path of a JSON profile (copied into the container dir at create). */
    seccomp: string;
    init: boolean;
    ulimits: { name: string; soft: number; hard: number }[];
    /** --device: host device nodes made in the container and allowed (docker's HostConfig.Devices). */
    devices?: DeviceMapping[];
    /** --device-cgroup-rule: extra allowed devices, 'TYPE MAJOR:MINOR PERMS' as given. */
    deviceCgroupRules?: string[];
    /** -m, --cpus, --pids-limit …: docker's HostConfig fields (runtime/resources.ts); `update` changes them */
    resources?: Resources;
    /** --oom-score-adj of the container's process 1 */
    oomScoreAdj?: number;
    /** --shm-size: bytes of /dev/shm (absent: docker's 64 MiB) */
    shmSize?: number;
    /** --sysctl: linux.sysctl of the spec (docker's HostConfig.Sysctls) */
    sysctls?: Record<string, string>;
    /** --userns/--uidmap: 'host' (or absent), 'ns:PATH' (joined), 'private' (a new one with uidMaps/gidMaps) */
    usernsMode?: string;
    uidMaps?: { containerID: number; hostID: number; size: number }[];
    gidMaps?: { containerID: number; hostID: number; size: number }[];
    /**
     * Container paths tsrun mounts onto (/etc/hostname, /etc/hosts, /etc/resolv.conf,
     * volume and tmpfs targets). When missing from the image, tsrun-init creates them
     * as empty placeholders in upper/; commit leaves those placeholders out.
     */
    bindTargets?: string[];
  };
}

export interface ContainerState extends RestartState {
  status: Status;
  /** PID (in the host's namespace) of the container's process 1, while running. */
  pid?: number;
  /** PID of the tsrun-init monitor that reaps the container and writes exit.json. */
  monitorPid?: number;
  /** Start time (field 22 of /proc/PID/stat) of pid and monitorPid: a different value means the PID was reused. */
  pidStart?: number;
  monitorStart?: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  /** The kernel's OOM killer killed a process of the container (its memory cgroup's oom_kill count). */
  oomKilled?: boolean;
  /** Set when tsrun itself failed to start the process. */
  error?: string;
}

export interface Container {
  dir: string;
  config: ContainerConfig;
  state: ContainerState;
}

export function containerDir(ctx: Ctx, id: string): string {
  return path.join(ctx.containersDir, id);
}

export function newContainerId(): string {
  return randomHex(32);
}

/** One buffer for every record read: `ps -a` reads two small files per container. */
let recordBuf: Buffer | undefined;

/**
 * A record file's JSON, undefined when it does not exist. open + one read +
 * close into a reused buffer: readFileSync also fstats and allocates per file,
 * a third of `ps -a`'s time over 1,000 containers. Files as big as the buffer
 * are read whole the ordinary way.
 */
function readRecordJson<T>(file: string): T | undefined {
  recordBuf ??= Buffer.allocUnsafe(64 * 1024);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let n: number;
  try {
    n = fs.readSync(fd, recordBuf, 0, recordBuf.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (n === recordBuf.length) return readJsonIfExists<T>(file);
  return JSON.parse(recordBuf.toString('utf8', 0, n)) as T;
}

export function readContainer(ctx: Ctx, id: string): Container | undefined {
  const dir = `${ctx.containersDir}/${id}`;
  const config = readRecordJson<ContainerConfig>(`${dir}/config.json`);
  if (!config) return undefined;
  const state = readRecordJson<ContainerState>(`${dir}/state.json`) ?? { status: 'created' };
  return { dir, config, state };
}

export function writeState(c: Container, state: ContainerState): void {
  writeJsonReplace(path.join(c.dir, 'state.json'), state);
  c.state = state;
}

export function writeConfig(c: Container): void {
  writeJsonReplace(path.join(c.dir, 'config.json'), c.config);
}

/** All containers with a complete record (a dir without config.json is a create that died: swept by rm/prune). */
export function listContainers(ctx: Ctx): Container[] {
  const out: Container[] = [];
  for (const id of readdirIfExists(ctx.containersDir)) {
    if (!/^[a-f0-9]{64}$/.test(id)) continue;
    const c = readContainer(ctx, id);
    if (c) out.push(c);
  }
  return out.sort((a, b) => (a.config.created < b.config.created ? 1 : -1));
}

/** Find a container by full ID, name, or unique ID prefix, like docker. */
export function findContainer(ctx: Ctx, ref: string): Container {
  const all = listContainers(ctx);
  const name = ref.startsWith('/') ? ref.slice(1) : ref;
  const exact = all.find((c) => c.config.id === ref || c.config.name === name);
  if (exact) return exact;
  if (/^[a-f0-9]+$/.test(ref)) {
    const hits = all.filter((c) => c.config.id.startsWith(ref));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) throw new TsrunError('AMBIGUOUS', `container ID prefix ${ref} matches ${hits.length} containers`, { hint: 'give more characters of the ID or use the name' });
  }
  throw new TsrunError('NOT_FOUND', `No such container: ${ref}`, { hint: 'see `tsrun ps -a`' });
}
