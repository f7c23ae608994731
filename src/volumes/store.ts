/**
 * The volume store of one tsrun root, laid out as docker's local driver:
 *   ROOT/volumes/.lock           held for every create, remove and prune, and by container
 *                                create while it records which volumes it uses (so prune
 *                                never removes a volume a container is about to name)
 *   ROOT/volumes/NAME/volume.json  the metadata record (written atomically)
 *   ROOT/volumes/NAME/_data/     the volume's content, bind-mounted into containers
 *
 * A volume appears complete or not at all: it is made under a temp name
 * (`.tmp-…`, never listed) and renamed into place; removal renames it to a
 * trash name first. Leftovers of an interrupted create or rm are swept by the
 * next create/prune. Whether a volume is in use is a question about
 * containers, answered in ops/volume.ts (this store knows none).
 */
import fs from 'node:fs';
import path from 'node:path';
import { mkdirInStore, type Ctx } from '../context.js';
import { notFound, syscallError, TsrunError } from '../util/errors.js';
import { checkDriverOptions, checkVolumeName, validVolumeName } from './spec.js';
export { validVolumeName } from './spec.js';
import { readJsonIfExists, writeJsonAtomic, fsyncDir } from '../util/atomic.js';
import { randomHex } from '../util/builtins.js';
import { removeTree } from '../util/rmtree.js';
import { withLock, withLockSync } from '../util/lock.js';

/** docker's label on anonymous volumes (docker ≥ 23): `volume prune` without -a removes only these. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  CreatedAt: string;
  Labels: Record<string, string>;
  /** The local driver's -o options: type, device, o. */
  Options: Record<string, string>;
  Scope: 'local';
}

export interface Volume extends VolumeRecord {
  /** ROOT/volumes/NAME/_data */
  Mountpoint: string;
}

export function volumesDir(ctx: Ctx): string {
  return path.join(ctx.root, 'volumes');
}

export function volumeDataDir(ctx: Ctx, name: string): string {
  return path.join(volumesDir(ctx), name, '_data');
}

/** Run fn holding the store's lock (see the file comment). */
export function withVolumesLock<T>(ctx: Ctx, fn: () => T): T {
  // a store that does not exist has no volume to guard (nothing is made for it: context.ts)
  if (!mkdirInStore(ctx, volumesDir(ctx))) return fn();
  return withLockSync(path.join(volumesDir(ctx), '.lock'), fn);
}

/** withVolumesLock for work that awaits (container create: copy-up, then the record). */
export async function withVolumesLockAsync<T>(ctx: Ctx, fn: () => Promise<T>): Promise<T> {
  if (!mkdirInStore(ctx, volumesDir(ctx))) return fn();
  return withLock(path.join(volumesDir(ctx), '.lock'), fn);
}

function toVolume(ctx: Ctx, r: VolumeRecord): Volume {
  return { ...r, Mountpoint: volumeDataDir(ctx, r.Name) };
}

export function readVolume(ctx: Ctx, name: string): Volume | undefined {
  if (!validVolumeName(name)) return undefined;
  const r = readJsonIfExists<VolumeRecord>(path.join(volumesDir(ctx), name, 'volume.json'));
  return r ? toVolume(ctx, r) : undefined;
}

export function getVolume(ctx: Ctx, name: string): Volume {
  const v = readVolume(ctx, name);
  if (!v) throw notFound(`get ${name}: no such volume`, 'see `tsrun volume ls`');
  return v;
}

/** Every complete volume, by name. */
export function listVolumes(ctx: Ctx): Volume[] {
  let names: string[];
  try {
    names = fs.readdirSync(volumesDir(ctx));
  } catch {
    return [];
  }
  const out: Volume[] = [];
  for (const n of names.sort()) {
    if (n.startsWith('.')) continue; // .lock, .tmp-*, .trash-*
    const v = readVolume(ctx, n);
    if (v) out.push(v);
  }
  return out;
}

export interface CreateVolumeOptions {
  name?: string;
  labels?: Record<string, string>;
  driver?: string;
  options?: Record<string, string>;
  anonymous?: boolean;
}

/** Validate everything a create would write, before anything is written. */
export function checkCreate(o: CreateVolumeOptions): void {
  if (o.driver !== undefined && o.driver !== 'local') throw new TsrunError('UNSUPPORTED', `volume driver ${JSON.stringify(o.driver)} is not supported by tsrun`, { hint: 'use the local driver' });
  if (o.name !== undefined) checkVolumeName(o.name);
  checkDriverOptions(o.options ?? {});
}

/**
 * Create a volume, or return the existing one of that name (docker's create is
 * idempotent; it refuses only other options for an existing name). Call it
 * inside withVolumesLock.
 */
export function createVolumeLocked(ctx: Ctx, o: CreateVolumeOptions): { volume: Volume; created: boolean } {
  checkCreate(o);
  const name = o.name ?? randomHex(32);
  const existing = readVolume(ctx, name);
  if (existing) {
    if (o.options && Object.keys(o.options).length && JSON.stringify(o.options) !== JSON.stringify(existing.Options)) {
      throw new TsrunError('CONFLICT', `create ${name}: a volume with that name already exists with other options`, { hint: 'remove it first or choose another name', exitCode: 1 });
    }
    return { volume: existing, created: false };
  }
  const record: VolumeRecord = {
    Name: name,
    Driver: 'local',
    CreatedAt: new Date().toISOString(),
    Labels: { ...(o.labels ?? {}), ...(o.anonymous ? { [ANONYMOUS_LABEL]: '' } : {}) },
    Options: o.options ?? {},
    Scope: 'local',
  };
  const dir = volumesDir(ctx);
  const tmp = path.join(dir, `.tmp-${name.slice(0, 40)}-${randomHex(4)}`);
  try {
    fs.mkdirSync(tmp, { mode: 0o701 });
    fs.mkdirSync(path.join(tmp, '_data'), { mode: 0o755 });
    writeJsonAtomic(path.join(tmp, 'volume.json'), record);
    fs.renameSync(tmp, path.join(dir, name));
    fsyncDir(dir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw syscallError(`cannot create volume ${name}`, err);
  }
  return { volume: toVolume(ctx, record), created: true };
}

export function createVolume(ctx: Ctx, o: CreateVolumeOptions): Volume {
  checkCreate(o); // before the store is touched
  return withVolumesLock(ctx, () => {
    sweepVolumes(ctx);
    return createVolumeLocked(ctx, o).volume;
  });
}

/** Remove a volume's dir (inside withVolumesLock; the caller checked it is unused): rename out of the listing, then delete. */
export function removeVolumeLocked(ctx: Ctx, name: string): void {
  const dir = path.join(volumesDir(ctx), name);
  const trash = path.join(volumesDir(ctx), `.trash-${name.slice(0, 40)}-${randomHex(4)}`);
  try {
    fs.renameSync(dir, trash);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw syscallError(`cannot remove volume ${name}`, err);
  }
  removeTree(trash);
}

/** Temp and trash dirs left by a create or rm that was killed. */
export function sweepVolumes(ctx: Ctx): void {
  let names: string[];
  try {
    names = fs.readdirSync(volumesDir(ctx));
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith('.tmp-') && !n.startsWith('.trash-')) continue;
    try {
      removeTree(path.join(volumesDir(ctx), n));
    } catch {
      /* the next sweep tries again */
    }
  }
}

/**
 * Size of a volume's content in bytes as docker counts it (moby's
 * directory.Size): apparent sizes of everything but directories, each inode once.
 */
export function volumeSize(ctx: Ctx, name: string): number {
  const seen = new Set<number>();
  let total = 0;
  const stack = [volumeDataDir(ctx, name)];
  while (stack.length) {
    const dir = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        stack.push(p);
        continue;
      }
      let st: fs.Stats;
      try {
        st = fs.lstatSync(p);
      } catch {
        continue;
      }
      if (st.size === 0 || seen.has(st.ino)) continue;
      seen.add(st.ino);
      total += st.size;
    }
  }
  return total;
}

/** True when the volume's _data has no entries (docker copies the image's content only into an empty volume). */
export function volumeIsEmpty(ctx: Ctx, name: string): boolean {
  try {
    return fs.readdirSync(volumeDataDir(ctx, name)).length === 0;
  } catch {
    return false;
  }
}
