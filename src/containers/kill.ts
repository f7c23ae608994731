/**
 * kill: send a signal to the container's process 1 (SIGKILL goes to the
 * whole cgroup, so nothing the container forked survives).
 */
import type { Ctx } from '../context.js';
import { hasCode, usageError, syscallError } from '../util/errors.js';
import type { Container } from './record.js';
import { sameProcessAlive } from './status.js';
import { checkStatus, transitionSync } from './transition.js';
import { isRestarting, markManualStop } from './restart-policy.js';
import { killCgroup, thawCgroup } from '../runtime/cgroups.js';
import { os } from '../util/builtins.js';

export interface Signal {
  name: NodeJS.Signals;
  number: number;
}

/** "TERM", "SIGTERM", "sigterm", "15" → SIGTERM. */
export function parseSignal(spec: string): Signal {
  const s = spec.trim().toUpperCase();
  const sigs = os().constants.signals as Record<string, number>;
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    const name = Object.keys(sigs).find((k) => sigs[k] === n);
    if (name) return { name: name as NodeJS.Signals, number: n };
  } else {
    const name = s.startsWith('SIG') ? s : `SIG${s}`;
    if (sigs[name] !== undefined) return { name: name as NodeJS.Signals, number: sigs[name]! };
  }
  throw usageError(`invalid signal ${JSON.stringify(spec)}`, 'use a name like TERM, SIGKILL, USR1 or a number');
}

/** Signal the container's process 1 (or all of it for SIGKILL). The container must be running (or paused). */
export function killContainer(ctx: Ctx, c0: Container, signal: Signal): Container {
  // 'stop' takes any status: a container waiting out a restart's back-off is docker's "restarting", which kill accepts
  return transitionSync(ctx, c0, 'stop', (c) => {
    // the user's kill: SIGKILL or the stop signal cancels the restart policy, another signal marks a manual stop
    const mark = signal.number === 9 || parseSignal(c.config.stopSignal || 'SIGTERM').number === signal.number ? 'cancel' : 'signal';
    if (isRestarting(c)) {
      markManualStop(c, mark);
      return c;
    }
    checkStatus(c, 'kill');
    markManualStop(c, mark);
    signalContainer(ctx, c, signal);
    return c;
  });
}

/** No status check: used by kill, stop and rm with the container's lock held, once they have checked. */
export function signalContainer(ctx: Ctx, c: Container, signal: Signal): void {
  if (signal.number === 9) {
    killCgroup(c.config.id, 'SIGKILL', ctx);
    // process 1 may live outside the cgroup if the launcher failed to move it: kill it directly too
    if (sameProcessAlive(c.state.pid, c.state.pidStart)) tryKill(c.state.pid!, 9);
    return;
  }
  if (!sameProcessAlive(c.state.pid, c.state.pidStart)) return; // exited meanwhile: the monitor records it
  tryKill(c.state.pid!, signal.number);
  if (c.state.status === 'paused' && signal.number === os().constants.signals.SIGCONT) thawCgroup(c.config.id, ctx);
}

function tryKill(pid: number, signo: number): void {
  try {
    process.kill(pid, signo);
  } catch (err) {
    if (!hasCode(err, 'ESRCH')) throw syscallError(`cannot signal process ${pid}`, err);
  }
}
