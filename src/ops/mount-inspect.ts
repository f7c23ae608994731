/**
 * The mount parts of a container's `inspect`, in docker's shapes:
 * .Mounts (MountPoints: binds, volumes, --mount tmpfs), .HostConfig.Binds
 * (-v's binds and named volumes as given), .HostConfig.Mounts (--mount's),
 * .HostConfig.VolumesFrom and .Config.Volumes (image VOLUMEs and -v's
 * anonymous volumes, as a set).
 */
import type { ContainerConfig, Mount } from '../containers/record.js';

export function inspectMounts(k: ContainerConfig): Record<string, unknown>[] {
  return k.host.mounts
    .filter((m) => m.from !== '--tmpfs') // docker lists --tmpfs under HostConfig.Tmpfs only
    .map((m) => ({
      Type: m.type,
      ...(m.type === 'volume' ? { Name: m.name ?? '' } : {}),
      Source: m.source ?? '',
      Destination: m.destination,
      ...(m.type === 'volume' ? { Driver: 'local' } : {}),
      Mode: m.mode ?? '',
      RW: !m.readonly,
      Propagation: m.type === 'bind' ? (m.propagation ?? 'rprivate') : '',
    }));
}

/** HostConfig.Binds: each -v with a source, as typed (a named volume's name, a bind's absolute path). */
export function inspectBinds(k: ContainerConfig): string[] | null {
  const binds = k.host.mounts
    .filter((m) => m.from === '-v' && (m.type === 'bind' || m.name) && !m.anonymous)
    .map((m) => `${m.type === 'bind' ? m.source : m.name}:${m.destination}${m.mode ? `:${m.mode}` : ''}`);
  return binds.length ? binds : null;
}

function mountSpec(m: Mount): Record<string, unknown> {
  return {
    Type: m.type,
    ...(m.type === 'tmpfs' ? {} : { Source: m.type === 'bind' ? m.source : m.anonymous ? '' : m.name }),
    Target: m.destination,
    ...(m.readonly ? { ReadOnly: true } : {}),
    ...(m.type === 'bind' && m.propagation && m.propagation !== 'rprivate' ? { BindOptions: { Propagation: m.propagation } } : {}),
    ...(m.type === 'volume' && (m.noCopy || m.create) ? { VolumeOptions: { ...(m.noCopy ? { NoCopy: true } : {}), ...(m.create?.labels ? { Labels: m.create.labels } : {}), ...(m.create?.options ? { DriverConfig: { Name: 'local', Options: m.create.options } } : {}) } } : {}),
    ...(m.type === 'tmpfs' ? { TmpfsOptions: tmpfsOptions(m.options ?? []) } : {}),
  };
}

function tmpfsOptions(opts: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of opts) {
    const [k, v] = o.split('=');
    if (k === 'size') out.SizeBytes = Number(v);
    if (k === 'mode') out.Mode = parseInt(v!, 8);
  }
  return out;
}

/** HostConfig.Mounts: the --mount flags. */
export function inspectMountSpecs(k: ContainerConfig): Record<string, unknown>[] | null {
  const ms = k.host.mounts.filter((m) => m.from === '--mount').map(mountSpec);
  return ms.length ? ms : null;
}

/** Config.Volumes: {"/path": {}} or null. */
export function inspectConfigVolumes(k: ContainerConfig): Record<string, Record<string, never>> | null {
  return k.volumes?.length ? Object.fromEntries(k.volumes.map((v) => [v, {}])) : null;
}
