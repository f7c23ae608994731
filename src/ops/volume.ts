/**
 * docker's volume verbs over the volume store: create, ls (with filters),
 * inspect, rm (refused while any container names the volume), prune.
 * `system df`/`system prune` use listVolumeUsage and pruneVolumes.
 */
import type { Ctx } from '../context.js';
import { TsrunError, usageError } from '../util/errors.js';
import {
  ANONYMOUS_LABEL,
  createVolume,
  getVolume,
  listVolumes,
  readVolume,
  removeVolumeLocked,
  sweepVolumes,
  volumeSize,
  withVolumesLock,
  type CreateVolumeOptions,
  type Volume,
} from '../volumes/store.js';
import { volumeUsers } from '../containers/volume-users.js';

export { createVolume, listVolumes, volumeSize, type Volume };

/** docker's RFC 3339 CreatedAt (seconds, UTC). */
function createdAt(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}

/** `volume inspect`'s JSON, as docker's. */
export function volumeJson(v: Volume): Record<string, unknown> {
  return {
    CreatedAt: createdAt(v.CreatedAt),
    Driver: v.Driver,
    Labels: Object.keys(v.Labels).length ? v.Labels : null,
    Mountpoint: v.Mountpoint,
    Name: v.Name,
    Options: Object.keys(v.Options).length ? v.Options : null,
    Scope: v.Scope,
  };
}

export function inspectVolumes(ctx: Ctx, names: string[]): { found: Record<string, unknown>[]; missing: string[] } {
  const found: Record<string, unknown>[] = [];
  const missing: string[] = [];
  for (const n of names) {
    const v = readVolume(ctx, n);
    if (v) found.push(volumeJson(v));
    else missing.push(n);
  }
  return { found, missing };
}

export function volumeCreate(ctx: Ctx, o: CreateVolumeOptions): Volume {
  return createVolume(ctx, o);
}

export interface VolumeUsage {
  volume: Volume;
  /** IDs of the containers that name it */
  users: string[];
}

/** Every volume with the containers that use it (`system df -v` adds volumeSize). */
export function listVolumeUsage(ctx: Ctx): VolumeUsage[] {
  const users = volumeUsers(ctx);
  return listVolumes(ctx).map((volume) => ({ volume, users: users.get(volume.Name) ?? [] }));
}

interface Filter {
  key: string;
  value: string;
}

const FILTER_KEYS = ['dangling', 'name', 'label', 'driver'];

export function parseVolumeFilters(specs: string[], allowed = FILTER_KEYS): Filter[] {
  return specs.map((s) => {
    const eq = s.indexOf('=');
    if (eq <= 0) throw usageError(`bad format of filter (expected name=value)`, `got ${JSON.stringify(s)}`);
    const key = s.slice(0, eq).toLowerCase();
    if (!allowed.includes(key)) throw usageError(`invalid filter '${key}'`, `use ${allowed.join(', ')}`);
    const value = s.slice(eq + 1);
    if (key === 'dangling' && !['true', 'false', '1', '0'].includes(value)) throw usageError(`invalid filter 'dangling=${value}'`);
    return { key, value };
  });
}

/** docker's volume filters: the same key ORs its values, different keys AND. */
export function matchesFilters(u: VolumeUsage, filters: Filter[]): boolean {
  const byKey = new Map<string, string[]>();
  for (const f of filters) byKey.set(f.key, [...(byKey.get(f.key) ?? []), f.value]);
  for (const [key, values] of byKey) {
    const ok = values.some((v) => {
      switch (key) {
        case 'dangling':
          return (v === 'true' || v === '1') === (u.users.length === 0);
        case 'name':
          return u.volume.Name.includes(v);
        case 'driver':
          return u.volume.Driver === v;
        case 'label': {
          const eq = v.indexOf('=');
          const k = eq < 0 ? v : v.slice(0, eq);
          if (!(k in u.volume.Labels)) return false;
          return eq < 0 || u.volume.Labels[k] === v.slice(eq + 1);
        }
        case 'label!': {
          const eq = v.indexOf('=');
          const k = eq < 0 ? v : v.slice(0, eq);
          return !(k in u.volume.Labels) || (eq >= 0 && u.volume.Labels[k] !== v.slice(eq + 1));
        }
        default:
          return false;
      }
    });
    if (!ok) return false;
  }
  return true;
}

export function volumeList(ctx: Ctx, filterSpecs: string[]): VolumeUsage[] {
  const filters = parseVolumeFilters(filterSpecs);
  return listVolumeUsage(ctx).filter((u) => matchesFilters(u, filters));
}

export interface RemoveResult {
  removed: string[];
  errors: TsrunError[];
}

/** volume rm: each name on its own; in use is refused even with -f (docker's -f only ignores missing ones). */
export function removeVolumes(ctx: Ctx, names: string[], force: boolean): RemoveResult {
  return withVolumesLock(ctx, () => {
    const users = volumeUsers(ctx);
    const out: RemoveResult = { removed: [], errors: [] };
    for (const n of names) {
      const v = readVolume(ctx, n);
      if (!v) {
        if (!force) out.errors.push(new TsrunError('NOT_FOUND', `get ${n}: no such volume`, { exitCode: 1 }));
        continue;
      }
      const ids = users.get(v.Name) ?? [];
      if (ids.length) {
        out.errors.push(new TsrunError('CONFLICT', `remove ${n}: volume is in use - [${ids.join(', ')}]`, { hint: 'remove those containers first', exitCode: 1 }));
        continue;
      }
      removeVolumeLocked(ctx, v.Name);
      out.removed.push(n);
    }
    return out;
  });
}

export interface PruneResult {
  deleted: string[];
  reclaimed: number;
}

/**
 * volume prune (docker ≥ 23): unused anonymous volumes; with `all`, every
 * unused volume. Filters: label, label!, all.
 */
export function pruneVolumes(ctx: Ctx, opts: { all?: boolean; filters?: string[] } = {}): PruneResult {
  const filters = parseVolumeFilters(opts.filters ?? [], ['label', 'label!', 'all']);
  let all = !!opts.all;
  for (const f of filters.filter((x) => x.key === 'all')) all ||= f.value === 'true' || f.value === '1';
  const labelFilters = filters.filter((f) => f.key !== 'all');
  return withVolumesLock(ctx, () => {
    sweepVolumes(ctx);
    const users = volumeUsers(ctx);
    const out: PruneResult = { deleted: [], reclaimed: 0 };
    for (const v of listVolumes(ctx)) {
      if (users.get(v.Name)?.length) continue;
      if (!all && !(ANONYMOUS_LABEL in v.Labels)) continue;
      if (!matchesFilters({ volume: v, users: [] }, labelFilters)) continue;
      out.reclaimed += volumeSize(ctx, v.Name);
      removeVolumeLocked(ctx, v.Name);
      out.deleted.push(v.Name);
    }
    return out;
  });
}

export { getVolume };
