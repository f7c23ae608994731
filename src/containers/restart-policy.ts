/**
 * Restart policies, docker's: `--restart no|on-failure[:N]|always|unless-stopped`.
 * Pure decisions here; the process that carries them out is the container's
 * monitor, which hands over to `tsrun __on-exit` when the container exits
 * (native/init/watch.c, src/ops/restart-watch.ts).
 *
 * docker's rules (moby restartmanager and daemon/monitor.go), kept as is:
 * - back-off: 100 ms before the first restart, doubled at each one, at most
 *   1 min; back to 100 ms when the container had run for 10 s or more;
 * - on-failure restarts on a non-zero exit while the count is below N (N = 0: no limit);
 * - `stop`, and `kill` with SIGKILL or the container's stop signal, cancel any
 *   restart ('cancel'); `kill` with another signal only marks the container
 *   manually stopped ('signal'), which unless-stopped honours and always does not;
 * - RestartCount counts the restarts the policy made; a start by the user
 *   resets it, the back-off and the manual-stop mark;
 * - at boot (tsrun-restart.service, `tsrun start --all-restart`): always comes
 *   back even when stopped by hand, unless-stopped only when it was not.
 */
import { usageError } from '../util/errors.js';
import { writeState, type Container } from './record.js';
import { sameProcessAlive } from './status.js';

export type RestartPolicyName = 'no' | 'on-failure' | 'always' | 'unless-stopped';

export interface RestartPolicy {
  name: RestartPolicyName;
  maximumRetryCount: number;
}

export const NO_RESTART: RestartPolicy = { name: 'no', maximumRetryCount: 0 };

const NAMES: readonly string[] = ['no', 'always', 'on-failure', 'unless-stopped'];

/** docker's opts.ParseRestartPolicy plus the daemon's ValidateRestartPolicy, with their messages. */
export function parseRestartPolicy(spec: string): RestartPolicy {
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const count = colon < 0 ? '' : spec.slice(colon + 1);
  const hint = 'use no, always, unless-stopped, on-failure or on-failure:N';
  if (colon >= 0 && name === '') throw usageError('invalid restart policy format: no policy provided before colon', hint);
  let max = 0;
  if (count !== '') {
    if (!/^[+-]?\d+$/.test(count) || !Number.isSafeInteger(Number(count))) throw usageError('invalid restart policy format: maximum retry count must be an integer', hint);
    max = Number(count);
  }
  if (name === '') return NO_RESTART; // docker: an empty policy is "no"
  if (!NAMES.includes(name)) throw usageError(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`, hint);
  if (name === 'on-failure') {
    if (max < 0) throw usageError('invalid restart policy: maximum retry count cannot be negative', hint);
  } else if (max !== 0) {
    throw usageError(`invalid restart policy: maximum retry count can only be used with 'on-failure'${max < 0 ? ' and cannot be negative' : ''}`, hint);
  }
  return { name: name as RestartPolicyName, maximumRetryCount: max };
}

export function policyOf(c: Container): RestartPolicy {
  return c.config.host.restartPolicy ?? NO_RESTART;
}

/** What the user did to a running container: 'cancel' (stop, kill with KILL or the stop signal) or 'signal' (another kill). */
export type ManualStop = 'cancel' | 'signal';

/** The restart-related part of a container's state.json. */
export interface RestartState {
  /** Restarts the policy made since the user last started the container. */
  restartCount?: number;
  /** docker's restart manager timeout: the last back-off, in ms (0: none yet). */
  restartDelayMs?: number;
  manualStop?: ManualStop;
  /** A restart waiting out its back-off: the watcher process (pid and start time) and when it is due. */
  restarting?: { pid: number; pidStart?: number; due: string };
}

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
const RESET_AFTER_MS = 10_000;

export interface ExitFacts {
  exitCode: number;
  /** How long the run that just ended lasted. */
  ranMs: number;
  restartCount: number;
  lastDelayMs: number;
  manualStop?: ManualStop;
}

/** moby's RestartManager.ShouldRestart: whether to restart and after how long. */
export function decideRestart(policy: RestartPolicy, f: ExitFacts): { restart: boolean; delayMs: number } {
  if (policy.name === 'no' || f.manualStop === 'cancel') return { restart: false, delayMs: 0 };
  let delay = f.ranMs >= RESET_AFTER_MS ? 0 : f.lastDelayMs;
  delay = delay === 0 ? FIRST_DELAY_MS : Math.min(delay * 2, MAX_DELAY_MS);
  let restart = false;
  switch (policy.name) {
    case 'always':
      restart = true;
      break;
    case 'unless-stopped':
      restart = f.manualStop === undefined;
      break;
    case 'on-failure':
      restart = f.exitCode !== 0 && (policy.maximumRetryCount === 0 || f.restartCount < policy.maximumRetryCount);
      break;
  }
  return { restart, delayMs: delay };
}

/** The policy's answer for the run that just ended, from its exited state. */
export function decideFromState(c: Container, s: RestartState & { exitCode?: number; startedAt?: string; finishedAt?: string }): { restart: boolean; delayMs: number } {
  const ranMs = s.startedAt && s.finishedAt ? Date.parse(s.finishedAt) - Date.parse(s.startedAt) : 0;
  return decideRestart(policyOf(c), { exitCode: s.exitCode ?? 0, ranMs, restartCount: s.restartCount ?? 0, lastDelayMs: s.restartDelayMs ?? 0, manualStop: s.manualStop });
}

/**
 * When the exit is recorded (refresh) while the container's detached monitor is
 * still alive, that monitor is becoming `tsrun __on-exit` (the same process:
 * exec), which will restart the container if the policy says so. Marked
 * restarting from then on, so that no command sees it plainly exited (and,
 * say, removes it without -f) while the watcher starts up.
 */
export function watcherTakingOver(c: Container, exited: RestartState & { exitCode?: number; startedAt?: string; finishedAt?: string }): Pick<RestartState, 'restarting'> {
  const pid = c.state.monitorPid;
  if (policyOf(c).name === 'no' || !pid || !sameProcessAlive(pid, c.state.monitorStart)) return {};
  if (!decideFromState(c, exited).restart) return {};
  return { restarting: { pid, pidStart: c.state.monitorStart, due: '' } };
}

/** Whether `start --all-restart` (a boot) brings the container back: docker's daemon start. */
export function startsAtBoot(c: Container): boolean {
  const p = policyOf(c);
  return p.name === 'always' || (p.name === 'unless-stopped' && c.state.manualStop === undefined);
}

/** A restart is pending: the record is exited and its watcher is alive, waiting out the back-off. */
export function isRestarting(c: Container): boolean {
  const r = c.state.restarting;
  return c.state.status === 'exited' && !!r && sameProcessAlive(r.pid, r.pidStart);
}

/** docker's State.Status: "restarting" while a restart is pending, else the record's status. */
export function dockerStatus(c: Container): string {
  return isRestarting(c) ? 'restarting' : c.state.status;
}

/** docker's policy name for inspect's HostConfig.RestartPolicy. */
export function restartPolicyJson(c: Container): { Name: string; MaximumRetryCount: number } {
  const p = policyOf(c);
  return { Name: p.name, MaximumRetryCount: p.maximumRetryCount };
}

/**
 * What a start keeps of the restart state: a policy restart keeps the count,
 * the back-off and a manual-stop mark (docker's restart manager goes on); the
 * user's start resets them all (docker's containerStart with resetRestartManager).
 */
export function restartStateAtStart(s: RestartState, byPolicy: boolean): RestartState {
  if (!byPolicy) return {};
  return {
    ...(s.restartCount ? { restartCount: s.restartCount } : {}),
    ...(s.restartDelayMs ? { restartDelayMs: s.restartDelayMs } : {}),
    ...(s.manualStop ? { manualStop: s.manualStop } : {}),
  };
}

/**
 * Record a manual stop under the container's lock ('cancel' is never weakened to
 * 'signal'); a pending restart is dropped and its watcher told to go.
 */
export function markManualStop(c: Container, how: ManualStop): void {
  const pending = isRestarting(c);
  const manualStop = c.state.manualStop === 'cancel' ? 'cancel' : how;
  // a signal to a container already waiting to restart changes nothing of that restart (docker: nothing to signal)
  const keepPending = pending && how === 'signal';
  if (pending && !keepPending) cancelPendingRestart(c);
  if (manualStop === c.state.manualStop && (!c.state.restarting || keepPending)) return;
  writeState(c, { ...c.state, manualStop, ...(keepPending ? {} : { restarting: undefined }) });
}

/** Tell a watcher waiting out a back-off that its restart is cancelled (it exits at once). */
export function cancelPendingRestart(c: Container): void {
  const r = c.state.restarting;
  if (r && sameProcessAlive(r.pid, r.pidStart) && r.pid !== process.pid) {
    try {
      process.kill(r.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
}
