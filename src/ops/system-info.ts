/**
 * `tsrun info`: the host and store facts docker's `info` reports, under
 * docker's field names (system.Info) so `--format '{{.Containers}}'`,
 * `{{.CgroupVersion}}`, `{{json .RegistryConfig}}` scripts work unchanged.
 * tsrun has no daemon: the "server" facts are this machine's and this --root's.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { listContainers } from '../containers/record.js';
import { refresh } from '../containers/status.js';
import { cgroupMountEntries } from '../util/mountinfo.js';
import { kernelRelease, os } from '../util/builtins.js';
import { loadSettings, settingsFile } from '../registry/settings.js';
import { nativeBuildDir } from '../native.js';
import { TSRUN_VERSION } from './version-info.js';

export interface IndexInfo {
  Name: string;
  Mirrors: string[];
  Secure: boolean;
  Official: boolean;
}

export interface SystemInfo {
  ID: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DriverStatus: [string, string][];
  LoggingDriver: string;
  CgroupDriver: string;
  CgroupVersion: string;
  KernelVersion: string;
  OperatingSystem: string;
  OSVersion: string;
  OSType: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  DockerRootDir: string;
  Name: string;
  ServerVersion: string;
  Runtimes: Record<string, { path: string }>;
  DefaultRuntime: string;
  InitBinary: string;
  SecurityOptions: string[];
  RegistryConfig: {
    InsecureRegistryCIDRs: string[];
    IndexConfigs: Record<string, IndexInfo>;
    Mirrors: string[];
  };
  /** tsrun's own: the registry settings file read. */
  RegistriesConf: string;
  Debug: boolean;
  Warnings: string[];
}

/** statfs f_type → docker's backing filesystem names (moby's fsutils). */
const FS_NAMES: Record<number, string> = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
  0xf2f52010: 'f2fs',
};

export function backingFs(dir: string): string {
  try {
    const t = fs.statfsSync(dir).type;
    return FS_NAMES[t] ?? `<unknown> (0x${t.toString(16)})`;
  } catch {
    return '<unknown>';
  }
}

/** Does readdir report entry types here (overlay needs d_type)? */
function supportsDType(dir: string): boolean {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).every((e) => e.isFile() || e.isDirectory() || e.isSymbolicLink() || e.isFIFO() || e.isSocket() || e.isBlockDevice() || e.isCharacterDevice());
  } catch {
    return false;
  }
}

export function cgroupVersion(): '1' | '2' {
  return cgroupMountEntries().some((m) => m.fstype === 'cgroup2' && m.mountPoint === '/sys/fs/cgroup') ? '2' : '1';
}

/** PRETTY_NAME of /etc/os-release, and its VERSION_ID. */
function osRelease(): { name: string; version: string } {
  try {
    const text = fs.readFileSync('/etc/os-release', 'utf8');
    const get = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1] ?? '';
    return { name: get('PRETTY_NAME') || get('NAME') || 'Linux', version: get('VERSION_ID') };
  } catch {
    return { name: 'Linux', version: '' };
  }
}

export function systemInfo(ctx: Ctx): SystemInfo {
  const counts = { running: 0, paused: 0, stopped: 0 };
  const containers = listContainers(ctx).map((c) => refresh(ctx, c));
  for (const c of containers) {
    if (c.state.status === 'running') counts.running++;
    else if (c.state.status === 'paused') counts.paused++;
    else counts.stopped++;
  }
  const images = Object.keys(ctx.images.read().images).length;
  const rel = osRelease();
  const settings = loadSettings();
  const indexConfigs: Record<string, IndexInfo> = {
    'docker.io': { Name: 'docker.io', Mirrors: settings.mirrors['docker.io'] ?? [], Secure: !settings.insecure.includes('docker.io'), Official: true },
  };
  for (const [reg, mirrors] of Object.entries(settings.mirrors)) indexConfigs[reg] = { Name: reg, Mirrors: mirrors, Secure: !settings.insecure.includes(reg), Official: reg === 'docker.io' };
  for (const reg of settings.insecure) indexConfigs[reg] ??= { Name: reg, Mirrors: [], Secure: false, Official: false };
  const build = nativeBuildDir();
  const v2 = cgroupVersion() === '2';
  return {
    ID: '', // no engine: nothing to identify
    Containers: containers.length,
    ContainersRunning: counts.running,
    ContainersPaused: counts.paused,
    ContainersStopped: counts.stopped,
    Images: images,
    Driver: 'overlay2',
    DriverStatus: [
      ['Backing Filesystem', backingFs(ctx.root)],
      ['Supports d_type', String(supportsDType(ctx.root))],
      // tsrun mounts overlay with metacopy=off, redirect_dir=off, index=off (commit reads upper/ as it is)
      ['Using metacopy', 'false'],
      ['Native Overlay Diff', 'true'],
      ['userxattr', 'false'],
    ],
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: v2 ? '2' : '1',
    KernelVersion: kernelRelease(),
    OperatingSystem: rel.name,
    OSVersion: rel.version,
    OSType: 'linux',
    Architecture: os().machine(),
    NCPU: os().cpus().length,
    MemTotal: os().totalmem(),
    DockerRootDir: ctx.root,
    Name: os().hostname(),
    ServerVersion: TSRUN_VERSION,
    Runtimes: {
      tsrun: { path: path.join(build, 'tsrun-init') },
      'tsrun-runtime': { path: path.join(build, 'tsrun-runtime') },
    },
    DefaultRuntime: 'tsrun',
    InitBinary: path.join(build, 'tsrun-init'),
    SecurityOptions: ['name=seccomp,profile=builtin', ...(v2 ? ['name=cgroupns'] : [])],
    RegistryConfig: {
      // plain http without asking, as docker's default insecure CIDRs (tsrun also treats localhost so)
      InsecureRegistryCIDRs: ['127.0.0.0/8', '::1/128'],
      IndexConfigs: indexConfigs,
      Mirrors: settings.mirrors['docker.io'] ?? [],
    },
    RegistriesConf: settingsFile(),
    Debug: ctx.debug,
    Warnings: [],
  };
}
