/**
 * update: change a running (or paused) container's resource limits, as one
 * locked transition: the flags are checked against the recorded limits, the
 * changed values are written into the live cgroup (the same C mapping as at
 * start), then recorded, so inspect shows them and the next start applies them.
 */
import type { Ctx } from '../context.js';
import { writeConfig, type Container } from './record.js';
import { transitionSync } from './transition.js';
import { applyResources, containerCgroup } from '../runtime/cgroups.js';
import { parseResources, toLinuxResources, noResources, type ResourceFlags, type Resources } from '../runtime/resources.js';
import { blockDeviceNumber, hostFacts } from '../runtime/resources-host.js';
import { TsrunError, usageError } from '../util/errors.js';

/** The flags given, checked (before any container is looked at: a bad value changes none). */
export function parseUpdate(f: ResourceFlags): (current: Resources | undefined) => Resources {
  const given = Object.entries(f).some(([, v]) => v !== undefined && v !== false && !(Array.isArray(v) && !v.length));
  if (!given) throw usageError('you must provide one or more flags when using this command');
  parseResources(f, hostFacts, { update: true }); // values alone; relations with the record below
  return (current) => parseResources(f, hostFacts, { update: true, current });
}

export function updateContainer(ctx: Ctx, c0: Container, change: (current: Resources | undefined) => Resources): Container {
  return transitionSync(ctx, c0, 'update', (c) => {
    const current = c.config.host.resources;
    const delta = change(current);
    const layout = containerCgroup(ctx, c.config.id);
    if (!layout) throw new TsrunError('CONFLICT', `Cannot update container ${c.config.name}: its cgroup is gone`, { hint: 'the container is exiting; start it again' });
    // --cpus replaces a period/quota pair and the other way round, as docker's update does
    const merged: Resources = { ...current, ...delta };
    if (delta.NanoCpus) {
      delete merged.CpuPeriod;
      delete merged.CpuQuota;
    } else if (delta.CpuPeriod || delta.CpuQuota) delete merged.NanoCpus;
    applyResources(layout, toLinuxResources(delta, blockDeviceNumber));
    for (const k of Object.keys(merged) as (keyof Resources)[]) {
      const v = merged[k];
      if (v === 0 || v === '' || (k === 'PidsLimit' && typeof v === 'number' && v < 0)) delete merged[k]; // 0 / -1: unset, as docker shows it
    }
    if (noResources(merged)) delete c.config.host.resources;
    else c.config.host.resources = merged;
    writeConfig(c);
    return c;
  });
}
