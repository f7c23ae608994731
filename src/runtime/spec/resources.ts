/**
 * linux.resources: the one place the spec's resources are filled: the device
 * allow-list (mounts.ts: specDevices) and the limits from docker's flags
 * (--memory, --cpus, --pids-limit …, kept in the record as HostConfig fields)
 * as dockerd builds them (../resources.ts: toLinuxResources). tsrun-init makes
 * the container's cgroup from linux.cgroupsPath and writes these into it
 * (native/cgroup/, the mapping tsrun-runtime uses); `update` rewrites them in
 * the kept spec.json as it writes the live cgroup.
 */
import type { ContainerConfig } from '../../containers/record.js';
import { toLinuxResources } from '../resources.js';
import { blockDeviceNumber } from '../resources-host.js';
import type { SpecDeviceRule, SpecResources } from './types.js';

export function specResources(c: ContainerConfig, deviceRules: SpecDeviceRule[]): SpecResources {
  const limits = c.host.resources ? toLinuxResources(c.host.resources, blockDeviceNumber) : {};
  return { devices: deviceRules, ...limits };
}
