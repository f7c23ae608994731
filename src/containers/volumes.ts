/**
 * A container's mounts, from docker's flags and the image, to the record:
 *
 *   1. -v, --mount, --tmpfs (parsed and checked before anything is written);
 *   2. --volumes-from CTR[:ro|rw]: that container's binds and volumes, where
 *      (1) names no mount at the same path;
 *   3. the image's VOLUME paths that nothing above covers: anonymous volumes,
 *      so their data never lands in the container layer (nor a commit).
 *
 * Then, under the volume store's lock (held until the container record is
 * written, so `volume prune`/`rm` cannot remove a volume meanwhile): named
 * volumes that do not exist are created, anonymous ones made, and every
 * volume that is empty gets the image's content at its path (copy-up; not
 * with nocopy, not for volumes taken from another container). A failure
 * removes the volumes this create made: bad input leaves the store as it was.
 */
import path from 'node:path';
import type { Ctx } from '../context.js';
import type { Image } from '../images/store.js';
import type { ContainerConfig, Mount } from './record.js';
import { findContainer } from './record.js';
import { notFound } from '../util/errors.js';
import type { MountRequest } from '../volumes/spec.js';
import { parseVolumesFrom } from '../volumes/spec.js';

/** A parsed flag → the record's Mount (volumes get their source when resolved). */
export function mountOf(r: MountRequest): Mount {
  const m: Mount = { type: r.type, destination: r.destination, from: r.from };
  if (r.readonly) m.readonly = true;
  if (r.type === 'bind') m.source = r.source;
  if (r.type === 'volume') {
    if (r.source) m.name = r.source;
    else m.anonymous = true;
    if (r.noCopy) m.noCopy = true;
    if (r.volumeLabels || r.volumeOptions) m.create = { ...(r.volumeLabels ? { labels: r.volumeLabels } : {}), ...(r.volumeOptions ? { options: r.volumeOptions } : {}) };
  }
  if (r.type === 'tmpfs') m.options = r.options ?? [];
  if (r.propagation) m.propagation = r.propagation;
  else if (r.type === 'bind') m.propagation = 'rprivate';
  if (r.mode) m.mode = r.mode;
  if (r.spec && r.from === '-v') m.spec = r.spec;
  return m;
}

/** The image's VOLUME paths, cleaned (an image is hostile: `/`, relative or odd paths are dropped). */
export function imageVolumes(image: Image): string[] {
  const v = image.config.config?.Volumes as Record<string, unknown> | null | undefined;
  const out: string[] = [];
  for (const p of Object.keys(v ?? {})) {
    if (!p.startsWith('/') || p.includes('\0') || p.includes('\x1f')) continue;
    const clean = path.posix.normalize(p).replace(/\/$/, '');
    if (clean && clean !== '/' && !out.includes(clean)) out.push(clean);
  }
  return out;
}

/** Steps 1 and 3 (pure): the explicit mounts, then anonymous volumes for the image's VOLUMEs they leave. */
export function initialMounts(reqs: MountRequest[], image: Image): { mounts: Mount[]; configVolumes: string[] } {
  const mounts = reqs.map(mountOf);
  const taken = new Set(mounts.map((m) => m.destination));
  const fromImage = imageVolumes(image);
  for (const p of fromImage) if (!taken.has(p)) mounts.push({ type: 'volume', destination: p, anonymous: true, from: 'image' });
  const anon = reqs.filter((r) => r.type === 'volume' && !r.source && r.from === '-v').map((r) => r.destination);
  return { mounts, configVolumes: [...new Set([...fromImage, ...anon])] };
}

/** Step 2: --volumes-from, replacing image volumes at the same path, never explicit mounts. */
export function addVolumesFrom(ctx: Ctx, cfg: ContainerConfig, specs: string[]): void {
  if (!specs.length) return;
  const explicit = new Set(cfg.host.mounts.filter((m) => m.from !== 'image').map((m) => m.destination));
  for (const spec of specs) {
    const { ref, mode } = parseVolumesFrom(spec);
    const other = findContainer(ctx, ref);
    for (const m of other.config.host.mounts) {
      if (m.type === 'tmpfs' || explicit.has(m.destination)) continue;
      const copy: Mount = { ...m, from: 'volumes-from', readonly: mode === 'ro' ? true : mode === 'rw' ? false : !!m.readonly };
      delete copy.spec;
      const i = cfg.host.mounts.findIndex((x) => x.destination === m.destination);
      if (i >= 0) cfg.host.mounts[i] = copy;
      else cfg.host.mounts.push(copy);
    }
  }
  cfg.host.volumesFrom = specs;
}

export function usesVolumeStore(cfg: ContainerConfig): boolean {
  return cfg.host.mounts.some((m) => m.type === 'volume');
}

/**
 * Create or find every volume the config names and fill empty ones from the
 * image. Call inside withVolumesLock; returns an undo that removes the volumes
 * this call created (the caller runs it when writing the record fails).
 */
export async function resolveVolumes(ctx: Ctx, cfg: ContainerConfig, lowers: string[]): Promise<() => void> {
  const store = await import('../volumes/store.js');
  const made: string[] = [];
  const undo = () => {
    for (const n of made) store.removeVolumeLocked(ctx, n);
  };
  try {
    const fill: Mount[] = [];
    for (const m of cfg.host.mounts) {
      if (m.type !== 'volume') continue;
      if (m.from === 'volumes-from') {
        if (m.name && !store.readVolume(ctx, m.name)) throw notFound(`get ${m.name}: no such volume`, `the volume of --volumes-from was removed`);
        continue;
      }
      const { volume, created } = store.createVolumeLocked(ctx, {
        ...(m.name ? { name: m.name } : { anonymous: true }),
        ...(m.create?.labels ? { labels: m.create.labels } : {}),
        ...(m.create?.options ? { options: m.create.options } : {}),
      });
      if (created) made.push(volume.Name);
      m.name = volume.Name;
      placeVolume(m, volume.Mountpoint, volume.Options);
      if (!m.noCopy && !m.device && store.volumeIsEmpty(ctx, volume.Name)) fill.push(m);
    }
    if (fill.length && lowers.length) {
      const { withImageView, copyImagePath } = await import('../volumes/copyup.js');
      withImageView(ctx, lowers, (root) => {
        for (const m of fill) copyImagePath(root, m.destination, m.source!);
      });
    }
  } catch (err) {
    undo();
    throw err;
  }
  return undo;
}

/**
 * Where a volume's content comes from: its _data dir; a host dir for the
 * local driver's `o=bind` with `device`; or a mount made in the container
 * (`type`/`device`/`o`, e.g. a tmpfs or nfs volume).
 */
export function placeVolume(m: Mount, dataDir: string, opts: Record<string, string>): void {
  const o = (opts.o ?? '').split(',').filter(Boolean);
  if (opts.device && (o.includes('bind') || o.includes('rbind'))) {
    m.source = opts.device;
  } else if (opts.type) {
    m.source = dataDir;
    m.device = { fstype: opts.type, source: opts.device ?? opts.type, data: [...o, ...(opts.size ? [`size=${opts.size}`] : [])].join(',') };
  } else {
    m.source = dataDir;
  }
}
