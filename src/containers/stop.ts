/**
 * stop: the container's stop signal (default SIGTERM) to process 1, up to
 * `timeout` seconds of grace, then SIGKILL to the whole cgroup. Stopping a
 * container that is not running is a no-op, as in docker.
 */
import type { Ctx } from '../context.js';
import { TsrunError } from '../util/errors.js';
import type { Container } from './record.js';
import { isRunning } from './status.js';
import { transition } from './transition.js';
import { parseSignal, signalContainer } from './kill.js';
import { waitForExit } from './wait.js';
import { thawCgroup } from '../runtime/cgroups.js';
import { isRestarting, markManualStop } from './restart-policy.js';

export interface StopOptions {
  /** Seconds of grace; default the container's stopTimeout or 10. Negative waits forever. */
  timeout?: number;
  /** Signal instead of the container's StopSignal. */
  signal?: string;
}

/**
 * Each signal is sent in a locked transition; the grace period is waited out
 * without the lock, so exec, ps and inspect are not held up by it.
 */
export async function stopContainer(ctx: Ctx, c0: Container, opts: StopOptions = {}): Promise<Container> {
  const signal = parseSignal(opts.signal ?? (c0.config.stopSignal || 'SIGTERM'));
  const timeout = opts.timeout ?? c0.config.stopTimeout ?? 10;
  const c = await transition(ctx, c0, 'stop', (c) => {
    // a stop by the user: no restart policy brings the container back (docker's ExitOnNext)
    if (isRestarting(c)) markManualStop(c, 'cancel');
    if (!isRunning(c)) return c;
    markManualStop(c, 'cancel');
    signalContainer(ctx, c, signal);
    // a frozen process cannot act on its signal: thaw so it can exit
    if (c.state.status === 'paused') thawCgroup(c.config.id, ctx);
    return c;
  });
  if (!isRunning(c)) return c;
  if (signal.number !== 9) {
    const exited = await waitForExit(ctx, c, timeout < 0 ? Infinity : timeout * 1000);
    if (exited) return exited;
  }
  const last = await transition(ctx, c, 'stop', (now) => {
    if (isRunning(now)) signalContainer(ctx, now, parseSignal('KILL'));
    return now;
  });
  if (!isRunning(last)) return last;
  const killed = await waitForExit(ctx, last, 10_000);
  if (!killed) {
    throw new TsrunError('SYSCALL', `container ${c.config.name} did not exit after SIGKILL`, {
      hint: 'a process may be stuck in the kernel (D state); try again later',
    });
  }
  return killed;
}
