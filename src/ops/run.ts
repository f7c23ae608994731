/**
 * run = create + start + (wait + --rm cleanup), or -d: start and return the ID.
 * The container's exit status becomes tsrun's.
 */
import type { Ctx } from '../context.js';
import { resolveImageForRun, parsePullPolicy } from './run-image.js';
import { createContainer } from '../containers/create.js';
import { startContainer } from '../containers/start.js';
import { readContainer, type Container } from '../containers/record.js';
import type { RunFlags } from '../containers/options.js';
import { PendingLaunch } from '../runtime/launch.js';
import { specNamespaces } from '../runtime/spec/build.js';
import { mark } from '../util/trace.js';
import { hostPlatform } from '../oci/types.js';
import { tryLockDirExclusive, type Lock } from '../util/lock.js';
import { hasCode } from '../util/errors.js';

export interface RunResult {
  id: string;
  /** Exit status of the container (foreground runs). */
  exitCode?: number;
  /** A foreground run the detach keys let go of: the container runs on. */
  detached?: boolean;
}

/** The modules of the removal after a foreground --rm run (loaded while the container starts: see PendingLaunch.whileStarting). */
const removalModules = () => Promise.all([import('../containers/rm.js'), import('../runtime/cgroups.js')]);

export async function autoRemove(ctx: Ctx, c: Container): Promise<void> {
  const { removeContainer } = await import('../containers/rm.js');
  const fresh = readContainer(ctx, c.config.id);
  // another tsrun removing it first (an `rm -f`, a build's Ctrl-C) holds its lock while we wait
  // for it and leaves it gone (NOT_FOUND): gone is what this removal wants, not an error
  if (fresh) await removeContainer(ctx, fresh, { force: true }).catch((err: unknown) => {
    if (!hasCode(err, 'NOT_FOUND')) throw err;
  });
}

/**
 * --rm once the monitor has exited: it reaped the container's PID 1, and the
 * kernel killed and reaped everything else in its PID namespace first, so the
 * cgroup is empty. That makes the general `rm -f` (refresh and record the
 * exit, look for live processes, kill, thaw) needless on this hot path: rmdir
 * the cgroup, then the same rename-to-trash removal as rm. Anything unusual
 * (a busy cgroup, e.g. a v1 hierarchy still counting a dying task, or an
 * error) falls back to the general removal.
 */
export async function removeAfterExit(ctx: Ctx, c: Container, cgroupDirs: string[]): Promise<void> {
  const [{ removeDir }, { removeCgroupDirs }] = await removalModules();
  // the container's lock, as every verb: another tsrun acting on it (a start) sends us the general way
  let lock: Lock | undefined;
  try {
    lock = tryLockDirExclusive(c.dir);
  } catch {
    return; // removed already
  }
  try {
    // still the run we started (no other tsrun restarted it meanwhile)?
    if (!lock || readContainer(ctx, c.config.id)?.state.monitorPid !== c.state.monitorPid) throw new Error('not ours to remove the quick way');
    removeCgroupDirs(cgroupDirs, 0); // busy: the general removal below waits for it
    if (c.config.host.network !== 'none' && c.config.host.network !== 'host') {
      // netavark's teardown (~70 ms) runs after we return: the user's container has already ended
      const { teardownNetworkSoon } = await import('../runtime/network/attach.js');
      teardownNetworkSoon(ctx, c);
    }
    removeDir(ctx, c.dir);
    if (c.config.host.mounts.some((m) => m.anonymous)) {
      const { removeAnonymousVolumes } = await import('../containers/volume-users.js');
      await removeAnonymousVolumes(ctx, c.config.host.mounts);
    }
  } catch {
    lock?.release();
    lock = undefined;
    await autoRemove(ctx, c);
  } finally {
    lock?.release();
  }
}

/** Where pull progress lines go when run/create has to pull (the CLI passes stderr). */
export type PullLog = (line: string) => void;

export async function createOnly(ctx: Ctx, image: string, cmd: string[], flags: RunFlags, log?: PullLog): Promise<Container> {
  const policy = parsePullPolicy(flags.pull);
  const platform = flags.platform === undefined ? undefined : (await import('../oci/platform.js')).parsePlatform(flags.platform);
  const img = await resolveImageForRun(ctx, image, policy, log, platform);
  const host = hostPlatform();
  if (!platform && img.config.architecture !== host.architecture) {
    // docker's warning: the image is run anyway (emulated, when binfmt_misc can; createContainer checks)
    log?.(`WARNING: The requested image's platform (${img.config.os}/${img.config.architecture}${img.config.variant ? `/${img.config.variant}` : ''}) does not match the detected host platform (${host.os}/${host.architecture}${host.variant ? `/${host.variant}` : ''}) and no specific platform was requested`);
  }
  return createContainer(ctx, image, img, cmd, flags);
}

/** `detachKeys`: a foreground -it run's detach keys (bytes). */
export async function runContainer(ctx: Ctx, image: string, cmd: string[], flags: RunFlags, log?: PullLog, detachKeys?: number[]): Promise<RunResult> {
  mark('run');
  // the launcher starts (and seals itself, ~1.3 ms) while the container is created
  const userns = flags.uidmap?.length || flags.gidmap?.length ? 'private' : flags.userns;
  const launcher = new PendingLaunch(flags.detach, specNamespaces(flags.network, undefined, userns));
  if (flags.rm && !flags.detach) launcher.whileStarting(removalModules);
  let c: Container;
  try {
    c = await createOnly(ctx, image, cmd, flags, log);
  } catch (err) {
    launcher.abort();
    throw err;
  }
  mark('created');
  let started;
  try {
    started = await startContainer(ctx, c, { detach: flags.detach, launcher, detachKeys });
  } catch (err) {
    if (flags.rm) await autoRemove(ctx, c).catch(() => {});
    throw err;
  }
  if (flags.detach) return { id: c.config.id };
  mark('started');
  const exitCode = await started.launched.waitOrDetach();
  if (exitCode === 'detached') return { id: c.config.id, exitCode: 0, detached: true };
  mark('exited');
  if (flags.rm) {
    await removeAfterExit(ctx, started.container, started.cgroupDirs);
    mark('removed');
  }
  else {
    const { refresh } = await import('../containers/status.js');
    const fresh = readContainer(ctx, c.config.id);
    if (fresh) refresh(ctx, fresh);
  }
  return { id: c.config.id, exitCode };
}
