/**
 * Which containers use which volumes: a volume is in use while any container
 * record (running or not, as docker) names it. The volume store knows no
 * containers; the verbs that remove volumes ask here, under the volume
 * store's lock, which container create also holds while it records its
 * volumes.
 */
import type { Ctx } from '../context.js';
import { listContainers, type Mount } from './record.js';

/** volume name → IDs of the containers whose mounts name it */
export function volumeUsers(ctx: Ctx): Map<string, string[]> {
  const users = new Map<string, string[]>();
  for (const c of listContainers(ctx)) {
    for (const m of c.config.host.mounts) {
      if (m.type !== 'volume' || !m.name) continue;
      const ids = users.get(m.name) ?? [];
      if (!ids.includes(c.config.id)) ids.push(c.config.id);
      users.set(m.name, ids);
    }
  }
  return users;
}

/**
 * rm -v and --rm: the removed container's anonymous volumes, unless another
 * container still uses one (--volumes-from): docker leaves those.
 */
export async function removeAnonymousVolumes(ctx: Ctx, mounts: Mount[]): Promise<void> {
  const names = mounts.filter((m) => m.type === 'volume' && m.anonymous && m.name).map((m) => m.name!);
  if (!names.length) return;
  const store = await import('../volumes/store.js');
  store.withVolumesLock(ctx, () => {
    const users = volumeUsers(ctx);
    for (const n of names) if (!users.get(n)?.length) store.removeVolumeLocked(ctx, n);
  });
}
