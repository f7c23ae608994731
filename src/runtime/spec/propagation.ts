/**
 * Bind propagation (-v SRC:DST:rshared|rslave|…, --mount …,bind-propagation=…)
 * as docker puts it in the spec (moby's daemon/oci_linux.go setMounts) and
 * runc carries it out (native/init/rootfs.c follows runc's order):
 * - a shared bind needs its source on a shared mount of the host, a slave one
 *   on a shared or slave mount (docker's ensureShared / ensureSharedOrSlave,
 *   with their messages): without it nothing could propagate;
 * - linux.rootfsPropagation: shared with any shared bind, else rslave with
 *   any slave one; otherwise left out, and the launcher keeps tsrun's default,
 *   every mount of the namespace private (docker's binds default to rprivate);
 * - each bind's own propagation is then one of its options.
 * Nothing here runs for a container without a shared or slave bind: the
 * mount table is read only then.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Mount } from '../../containers/record.js';
import { readMountInfo } from '../../util/mountinfo.js';
import { usageError } from '../../util/errors.js';

const isShared = (p: string | undefined) => p === 'shared' || p === 'rshared';
const isSlave = (p: string | undefined) => p === 'slave' || p === 'rslave';

/** linux.rootfsPropagation for these mounts (docker's choice), or undefined. */
export function rootfsPropagation(mounts: readonly Mount[]): 'shared' | 'rslave' | undefined {
  const binds = mounts.filter((m) => m.type === 'bind');
  if (binds.some((m) => isShared(m.propagation))) return 'shared';
  if (binds.some((m) => isSlave(m.propagation))) return 'rslave';
  return undefined;
}

/** A bind's propagation option: only when the root has a propagation (else every mount is private already). */
export function bindPropagationOptions(m: Mount, root: string | undefined): string[] {
  return root && m.type === 'bind' && m.propagation ? [m.propagation] : [];
}

/** The path itself, or its nearest existing parent (-v creates a missing source at create), symlinks resolved. */
function existingReal(p: string): string {
  for (let cur = p; ; cur = path.dirname(cur)) {
    try {
      return fs.realpathSync(cur);
    } catch {
      if (cur === '/') return '/';
    }
  }
}

/** docker's ensureShared / ensureSharedOrSlave for each shared or slave bind: a one-line error naming the mount. */
export function checkPropagationSources(mounts: readonly Mount[]): void {
  const asking = mounts.filter((m) => m.type === 'bind' && (isShared(m.propagation) || isSlave(m.propagation)));
  if (!asking.length) return;
  const table = readMountInfo();
  for (const m of asking) {
    const real = existingReal(m.source!);
    // the mount holding the source: the last listed of the longest mount point above it (mounts stack)
    let best: (typeof table)[number] | undefined;
    for (const e of table) {
      const above = e.mountPoint === '/' || real === e.mountPoint || real.startsWith(e.mountPoint + '/');
      if (above && (!best || e.mountPoint.length >= best.mountPoint.length)) best = e;
    }
    const shared = !!best?.propagation.some((o) => o.startsWith('shared:'));
    const slave = !!best?.propagation.some((o) => o.startsWith('master:'));
    const where = best?.mountPoint ?? '/';
    if (isShared(m.propagation) && !shared)
      throw usageError(`path ${m.source} is mounted on ${where} but it is not a shared mount`, `make it shared first: mount --make-shared ${where}`);
    if (isSlave(m.propagation) && !shared && !slave)
      throw usageError(`path ${m.source} is mounted on ${where} but it is not a shared or slave mount`, `make it shared first: mount --make-shared ${where}`);
  }
}
