/**
 * Wait for a container to exit. The monitor writes exit.json into the
 * container dir, so an inotify watch on the dir (fs.watch) wakes us at once;
 * a 100 ms poll of the PIDs covers a monitor that died without writing it.
 */
import fs from 'node:fs';
import type { Ctx } from '../context.js';
import { readContainer, type Container } from './record.js';
import { isRunning, refresh, refreshLocked } from './status.js';

/**
 * Resolve with the refreshed exited (or created) record, or undefined when
 * timeoutMs passed first. A record removed meanwhile resolves with the last one seen.
 * `locked`: the caller holds the container's lock (rm -f), so refresh must not take it again.
 */
export function waitForExit(ctx: Ctx, c: Container, timeoutMs = Infinity, locked = false): Promise<Container | undefined> {
  return new Promise((resolve) => {
    let last = c;
    let watcher: fs.FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (r: Container | undefined) => {
      if (done) return;
      done = true;
      watcher?.close();
      if (timer) clearInterval(timer);
      if (deadline) clearTimeout(deadline);
      resolve(r);
    };
    const check = () => {
      if (done) return;
      const now = locked ? refreshLocked(ctx, c.config.id) : readContainer(ctx, c.config.id);
      if (!now) return finish(last);
      last = locked ? now : refresh(ctx, now);
      if (!isRunning(last)) finish(last);
    };
    try {
      watcher = fs.watch(c.dir, () => check());
      watcher.on('error', () => {});
    } catch {
      /* no inotify: the poll does it */
    }
    timer = setInterval(check, 100);
    if (Number.isFinite(timeoutMs)) deadline = setTimeout(() => finish(undefined), Math.max(0, timeoutMs));
    check();
  });
}
