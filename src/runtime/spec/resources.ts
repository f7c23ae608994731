/**
 * linux.resources: the one place the spec's resources are filled. Today the
 * device allow-list (mounts.ts: specDevices); limits from docker flags
 * (--memory, --cpus, --pids-limit …) go here too. tsrun-init applies the
 * devices to the container's cgroup (native/init/devices.c); the spec
 * records the rest for whichever cgroup manager writes it.
 */
import type { ContainerConfig } from '../../containers/record.js';
import type { SpecDeviceRule, SpecResources } from './types.js';

export function specResources(_c: ContainerConfig, deviceRules: SpecDeviceRule[]): SpecResources {
  return { devices: deviceRules };
}
