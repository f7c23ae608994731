/** `inspect` of a container: docker's JSON shape, from the record and the kernel's view. */
import path from 'node:path';
import type { Ctx } from '../context.js';
import type { Container } from '../containers/record.js';
import { refresh } from '../containers/status.js';
import { dockerStatus, isRestarting, restartPolicyJson } from '../containers/restart-policy.js';
import { healthJson } from '../containers/health.js';
import { networkSettings, portBindingsConfig } from '../runtime/network/settings.js';
import { inspectBinds, inspectConfigVolumes, inspectMounts, inspectMountSpecs } from './mount-inspect.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** docker's HostConfig resource fields, zero (PidsLimit null) when unset as docker shows them. */
function hostConfigResources(h: Container['config']['host']): Record<string, unknown> {
  const r = h.resources ?? {};
  return {
    Memory: r.Memory ?? 0,
    MemorySwap: r.MemorySwap ?? 0,
    MemoryReservation: r.MemoryReservation ?? 0,
    KernelMemory: 0,
    OomKillDisable: r.OomKillDisable ?? false,
    OomScoreAdj: h.oomScoreAdj ?? 0,
    NanoCpus: r.NanoCpus ?? 0,
    CpuShares: r.CpuShares ?? 0,
    CpuPeriod: r.CpuPeriod ?? 0,
    CpuQuota: r.CpuQuota ?? 0,
    CpusetCpus: r.CpusetCpus ?? '',
    CpusetMems: r.CpusetMems ?? '',
    PidsLimit: r.PidsLimit ?? null,
    BlkioWeight: r.BlkioWeight ?? 0,
    BlkioDeviceReadBps: r.BlkioDeviceReadBps ?? [],
    BlkioDeviceWriteBps: r.BlkioDeviceWriteBps ?? [],
    BlkioDeviceReadIOps: r.BlkioDeviceReadIOps ?? [],
    BlkioDeviceWriteIOps: r.BlkioDeviceWriteIOps ?? [],
    ShmSize: h.shmSize ?? 67108864,
  };
}

export function inspectContainer(ctx: Ctx, c0: Container): Record<string, unknown> {
  const c = refresh(ctx, c0);
  const { config: k, state: s } = c;
  const running = s.status === 'running' || s.status === 'paused';
  const restarting = isRestarting(c);
  const health = healthJson(c, running);
  const lowers = [...k.layers].reverse().map((l) => ctx.layers.diffDir(l));
  return {
    Id: k.id,
    Created: k.created,
    Path: k.path,
    Args: k.args,
    State: {
      Status: dockerStatus(c),
      Running: running || restarting, // docker: a container waiting to restart is running
      Paused: s.status === 'paused',
      Restarting: restarting,
      OOMKilled: !!s.oomKilled,
      Dead: false,
      Pid: running ? (s.pid ?? 0) : 0,
      ExitCode: s.exitCode ?? 0,
      Error: s.error ?? '',
      StartedAt: s.startedAt ?? ZERO_TIME,
      FinishedAt: s.finishedAt ?? ZERO_TIME,
      ...(health ? { Health: health } : {}),
    },
    Image: k.imageId,
    LogPath: path.join(c.dir, 'ctr.log'),
    Name: `/${k.name}`,
    RestartCount: s.restartCount ?? 0,
    Driver: 'overlay',
    Platform: 'linux',
    HostConfig: {
      AutoRemove: k.host.autoRemove,
      RestartPolicy: restartPolicyJson(c),
      NetworkMode: k.host.network,
      PortBindings: portBindingsConfig(c),
      PublishAllPorts: !!k.host.publishAll,
      Dns: k.host.dns?.dns ?? [],
      DnsSearch: k.host.dns?.dnsSearch ?? [],
      DnsOptions: k.host.dns?.dnsOptions ?? [],
      ExtraHosts: (k.host.extraHosts ?? []).map((h) => `${h.name}:${h.ip}`),
      Privileged: k.host.privileged,
      ReadonlyRootfs: k.host.readonlyRootfs,
      CapAdd: k.host.capAdd,
      CapDrop: k.host.capDrop,
      SecurityOpt: [
        ...(k.host.noNewPrivileges ? ['no-new-privileges'] : []),
        ...(k.host.seccomp && k.host.seccomp !== 'default' ? [`seccomp=${k.host.seccomp}`] : []),
      ],
      Init: k.host.init,
      Devices: (k.host.devices ?? []).map((d) => ({ PathOnHost: d.pathOnHost, PathInContainer: d.pathInContainer, CgroupPermissions: d.cgroupPermissions })),
      DeviceCgroupRules: k.host.deviceCgroupRules ?? null,
      Ulimits: k.host.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
      Binds: inspectBinds(k),
      Mounts: inspectMountSpecs(k),
      VolumesFrom: k.host.volumesFrom ?? null,
      UsernsMode: k.host.usernsMode ?? '',
      ...(k.host.sysctls ? { Sysctls: k.host.sysctls } : {}),
      // podman's: the maps of --uidmap/--gidmap
      ...(k.host.uidMaps ? { IDMappings: { UidMap: idMapText(k.host.uidMaps), GidMap: idMapText(k.host.gidMaps ?? []) } } : {}),
      Tmpfs: Object.fromEntries(k.host.mounts.filter((m) => m.type === 'tmpfs' && m.from !== '--mount').map((m) => [m.destination, (m.options ?? []).join(',')])),
      ...hostConfigResources(k.host),
    },
    NetworkSettings: networkSettings(ctx, c),
    GraphDriver: {
      Name: 'overlay',
      Data: {
        LowerDir: lowers.join(':'),
        UpperDir: path.join(c.dir, 'upper'),
        WorkDir: path.join(c.dir, 'work'),
        MergedDir: path.join(c.dir, 'rootfs'),
      },
    },
    Mounts: inspectMounts(k),
    Config: {
      Hostname: k.hostname,
      User: k.user,
      AttachStdin: k.attachStdin ?? false,
      AttachStdout: k.attachStdout ?? false,
      AttachStderr: k.attachStderr ?? false,
      Env: k.env,
      Cmd: k.args.length || k.path ? [k.path, ...k.args] : null,
      Image: k.image,
      WorkingDir: k.workingDir,
      Entrypoint: null,
      Labels: k.labels,
      Volumes: inspectConfigVolumes(k),
      Tty: k.tty,
      OpenStdin: k.openStdin,
      StdinOnce: k.stdinOnce ?? false,
      StopSignal: k.stopSignal,
      ...(k.healthcheck ? { Healthcheck: k.healthcheck } : {}),
      ...(k.shell ? { Shell: k.shell } : {}),
      ...(k.stopTimeout !== undefined ? { StopTimeout: k.stopTimeout } : {}),
    },
  };
}

/** podman's text of an id map: CONTAINER:HOST:SIZE */
function idMapText(maps: { containerID: number; hostID: number; size: number }[]): string[] {
  return maps.map((m) => `${m.containerID}:${m.hostID}:${m.size}`);
}
