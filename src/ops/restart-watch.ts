/**
 * `tsrun __on-exit ID`: what a container's monitor becomes once the container
 * has exited and its restart policy is not "no" (native/init/watch.c). It
 * records the exit, asks the policy (restart-policy.ts), and when it says
 * restart: counts it, marks the container restarting (ps: "Restarting (1) …",
 * inspect: State.Restarting) with itself as the watcher, waits out docker's
 * back-off, and starts the container again, detached, with a new monitor that
 * watches the next run. A stop, a kill or an rm meanwhile cancels the wait
 * (they clear the mark and send this process SIGTERM).
 */
import type { Ctx } from '../context.js';
import { readContainer, writeState } from '../containers/record.js';
import { lockContainer } from '../containers/transition.js';
import { procStartTime, refreshLocked } from '../containers/status.js';
import { decideFromState } from '../containers/restart-policy.js';
import { startContainer } from '../containers/start.js';

/** Under the container's lock: the exit recorded, the decision taken and, for a restart, written. The back-off, or undefined. */
function decide(ctx: Ctx, id: string): number | undefined {
  const c0 = readContainer(ctx, id);
  if (!c0) return undefined;
  const lock = lockContainer(c0);
  try {
    const c = refreshLocked(ctx, id);
    // started again by someone else meanwhile, or already in another watcher's hands (the mark
    // refresh puts on an exit is this process's own: it is the monitor that recorded the exit)
    if (!c || c.state.status !== 'exited' || (c.state.restarting && c.state.restarting.pid !== process.pid)) return undefined;
    const s = c.state;
    const d = decideFromState(c, s);
    if (!d.restart) {
      if (s.restarting) writeState(c, { ...s, restarting: undefined });
      return undefined;
    }
    writeState(c, {
      ...s,
      restartCount: (s.restartCount ?? 0) + 1,
      restartDelayMs: d.delayMs,
      restarting: { pid: process.pid, pidStart: procStartTime(process.pid), due: new Date(Date.now() + d.delayMs).toISOString() },
    });
    return d.delayMs;
  } finally {
    lock.release();
  }
}

export async function onContainerExit(ctx: Ctx, id: string): Promise<void> {
  // cancelled (stop, kill, rm -f): nothing is held while waiting, so just go
  process.on('SIGTERM', () => process.exit(0));
  const delayMs = decide(ctx, id);
  if (delayMs === undefined) return;
  await new Promise((r) => setTimeout(r, delayMs));
  const c = readContainer(ctx, id);
  if (!c) return;
  // the start checks, under the lock, that the restart is still this process's to make
  await startContainer(ctx, c, { detach: true, byPolicy: true });
}
