/**
 * What the container's filesystem has besides the image (spec/mounts.ts puts
 * it in the spec): the masked and read-only paths of /proc and /sys, the /etc
 * files tsrun writes, and the device nodes (FsOp: hostDeviceOps and --device
 * give them in this form).
 */
import type { ContainerConfig } from '../containers/record.js';

/** A device node to make in the container's /dev (mode with S_IFCHR/S_IFBLK; uid/gid: the host's owner). */
export type FsOp = { op: 'mknod'; dst: string; mode: number; major: number; minor: number; uid?: number; gid?: number };

export const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
  '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The files tsrun writes in the container dir and binds over /etc. */
export const ETC_FILES = ['hostname', 'hosts', 'resolv.conf'] as const;

/** Container paths tsrun mounts onto (commit leaves out the empty placeholders it may have created). */
export function mountTargets(c: ContainerConfig): string[] {
  return [...ETC_FILES.map((f) => `/etc/${f}`), ...c.host.mounts.map((m) => m.destination)];
}

