/**
 * update: change any container's resource limits and restart policy, as one
 * locked transition: the flags are checked against the recorded limits, the
 * changed values are written into the live cgroup of a running or paused
 * container (the same C mapping as at start), then recorded, so inspect shows
 * them and the next start applies them (for a stopped container, that start is
 * where they take effect, as docker's), and put in the kept spec.json's
 * linux.resources.
 *
 * A new restart policy is for the monitor already watching the container too
 * (docker's UpdateMonitor): its record, read at start, hands over to
 * `tsrun __on-exit` at exit only for a policy it knew of, or when the marker
 * file ON_EXIT_MARKER exists (native/init/watch.c) — written here, before the
 * config and under the container's lock, which `__on-exit` takes before it
 * reads the policy.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { readJsonIfExists, writeFileAtomic } from '../util/atomic.js';
import { specResources } from '../runtime/spec/resources.js';
import { specJson } from '../runtime/spec/build.js';
import type { Spec } from '../runtime/spec/types.js';
import { writeConfig, type Container } from './record.js';
import { transitionSync } from './transition.js';
import { isRunning } from './status.js';
import { parseRestartPolicy, type RestartPolicy } from './restart-policy.js';
import { applyResources, containerCgroup } from '../runtime/cgroups.js';
import { parseResources, toLinuxResources, noResources, type ResourceFlags, type Resources } from '../runtime/resources.js';
import { blockDeviceNumber, hostFacts } from '../runtime/resources-host.js';
import { ON_EXIT_MARKER } from '../runtime/watch-records.js';
import { TsrunError, usageError } from '../util/errors.js';

export interface UpdateChange {
  /** The resource flags given, as a delta against the recorded limits; undefined: none given. */
  resources?: (current: Resources | undefined) => Resources;
  restart?: RestartPolicy;
}

/** The flags given, checked (before any container is looked at: a bad value changes none). */
export function parseUpdate(f: ResourceFlags, restart?: string): UpdateChange {
  const given = Object.entries(f).some(([, v]) => v !== undefined && v !== false && !(Array.isArray(v) && !v.length));
  const policy = restart ? parseRestartPolicy(restart) : undefined; // docker: an empty --restart is not given
  if (!given && !policy) throw usageError('you must provide one or more flags when using this command');
  if (!given) return { restart: policy };
  parseResources(f, hostFacts, { update: true }); // values alone; relations with the record below
  return { resources: (current) => parseResources(f, hostFacts, { update: true, current }), restart: policy };
}

export function updateContainer(ctx: Ctx, c0: Container, change: UpdateChange): Container {
  return transitionSync(ctx, c0, change.resources ? 'update' : 'update --restart', (c) => {
    const policy = change.restart;
    if (policy && policy.name !== 'no' && c.config.host.autoRemove)
      throw new TsrunError('CONFLICT', `Cannot update container ${c.config.name}: Restart policy cannot be updated because AutoRemove is enabled for the container`, {
        hint: 'a --rm container is removed when it exits; create it without --rm to give it a policy',
      });
    if (change.resources) updateResources(ctx, c, change.resources);
    if (policy) {
      const marker = path.join(c.dir, ON_EXIT_MARKER);
      if (policy.name === 'no') fs.rmSync(marker, { force: true });
      else fs.writeFileSync(marker, '');
      c.config.host.restartPolicy = policy;
    }
    writeConfig(c);
    if (change.resources) keepSpecInStep(c);
    return c;
  });
}

/**
 * The kept spec (spec.json, what the launcher ran) gets the new linux.resources too, built by
 * the one builder a start uses (spec/resources.ts), so it says what the cgroup now holds.
 * A container that has none (a foreground --rm one) has nothing to keep in step.
 */
function keepSpecInStep(c: Container): void {
  const file = path.join(c.dir, 'spec.json');
  const spec = readJsonIfExists<Spec>(file);
  if (!spec?.linux) return;
  spec.linux.resources = specResources(c.config, spec.linux.resources?.devices ?? []);
  writeFileAtomic(file, specJson(spec));
}

/**
 * The record's limits (not yet written) changed by the flags, and the live cgroup of a running
 * or paused container; a created or exited one has no cgroup: its start builds the spec's
 * linux.resources from the record, as docker's update of a stopped container takes effect then.
 */
function updateResources(ctx: Ctx, c: Container, change: (current: Resources | undefined) => Resources): void {
  const current = c.config.host.resources;
  const delta = change(current);
  const live = isRunning(c);
  const layout = live ? containerCgroup(ctx, c.config.id) : undefined;
  if (live && !layout) throw new TsrunError('CONFLICT', `Cannot update container ${c.config.name}: its cgroup is gone`, { hint: 'the container is exiting; start it again' });
  // --cpus replaces a period/quota pair and the other way round, as docker's update does
  const merged: Resources = { ...current, ...delta };
  if (delta.NanoCpus) {
    delete merged.CpuPeriod;
    delete merged.CpuQuota;
  } else if (delta.CpuPeriod || delta.CpuQuota) delete merged.NanoCpus;
  if (layout) applyResources(layout, toLinuxResources(delta, blockDeviceNumber));
  for (const k of Object.keys(merged) as (keyof Resources)[]) {
    const v = merged[k];
    if (v === 0 || v === '' || (k === 'PidsLimit' && typeof v === 'number' && v < 0)) delete merged[k]; // 0 / -1: unset, as docker shows it
  }
  if (noResources(merged)) delete c.config.host.resources;
  else c.config.host.resources = merged;
}
