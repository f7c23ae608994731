/**
 * One locked transition per verb (youki style): take the container's lock,
 * refresh the record from the kernel under it, check that its status allows
 * the verb, act, save — all before the lock is released, so two verbs on one
 * container never both see "created" and both start it, and a verb racing
 * `rm` sees the container gone (NOT_FOUND), never a half-removed dir.
 *
 * The lock is a flock on the container directory itself: no lock file to
 * create on the start-up path, it follows the directory into rm's trash name,
 * and the kernel drops it when its holder dies (SIGKILL included), which is
 * how refreshLocked knows a frozen cgroup has no live freezer.
 *
 * ALLOWED is the state table: each verb and the statuses it may act on. The
 * OCI runtime states (creating → created → running → stopped) grow here.
 */
import type { Ctx } from '../context.js';
import { conflict, hasCode, notFound } from '../util/errors.js';
import { lockDirExclusive, lockDirExclusiveAsync, type Lock } from '../util/lock.js';
import type { Container, Status } from './record.js';
import { refreshLocked } from './status.js';

export type Verb = 'start' | 'pause' | 'unpause' | 'kill' | 'stop' | 'exec' | 'rm' | 'rm -f' | 'commit' | 'rename' | 'top' | 'export' | 'cp' | 'update' | 'update --restart';

const ANY: readonly Status[] = ['created', 'running', 'paused', 'exited'];

/** The statuses each verb may act on; any other status is refused by `refuse` below. */
export const ALLOWED: Readonly<Record<Verb, readonly Status[]>> = {
  start: ['created', 'exited'],
  pause: ['running'],
  unpause: ['paused'],
  kill: ['running', 'paused'],
  stop: ANY, // not running: a no-op, as docker
  exec: ['running'],
  top: ['running', 'paused'],
  rm: ['created', 'exited'],
  'rm -f': ANY,
  commit: ANY,
  rename: ANY,
  export: ANY,
  cp: ANY,
  update: ANY, // a stopped container's new limits are recorded and applied at its next start, as docker's
  'update --restart': ANY, // a policy alone is a record change, as docker's
};

/** The error for a verb its container's status does not allow (docker's wording). */
function refuse(c: Container, verb: Verb): Error {
  const { name } = c.config;
  const status = c.state.status;
  switch (verb) {
    case 'start':
      return conflict(`container ${name} is already ${status}`, `stop it first: tsrun stop ${name}`);
    case 'pause':
      if (status === 'paused') return conflict(`container ${name} is already paused`, `tsrun unpause ${name}`);
      break;
    case 'unpause':
      return conflict(`container ${name} is not paused (status ${status})`, 'only a paused container can be unpaused');
    case 'rm':
      return removeRefused(c);
  }
  const what = verb === 'exec' ? 'exec in' : verb;
  if (status === 'paused') return conflict(`cannot ${what} container ${name}: it is paused`, `unpause it first: tsrun unpause ${name}`);
  return conflict(`cannot ${what} container ${name}: it is not running (status ${status})`, `start it first: tsrun start ${name}`);
}

/** docker's refusal to remove a running or paused container without -f (scripts grep "cannot remove a running container"). */
export function removeRefused(c: Container): Error {
  if (c.state.status === 'paused') return conflict(`You cannot remove a paused container ${c.config.id}. Unpause and then stop the container before attempting removal or force remove`);
  return conflict(`You cannot remove a ${c.state.status} container ${c.config.id}. Stop the container before attempting removal or force remove`);
}

/** Throw CONFLICT unless `c`'s status allows `verb`. */
export function checkStatus(c: Container, verb: Verb): void {
  if (!ALLOWED[verb].includes(c.state.status)) throw refuse(c, verb);
}

const gone = (c: Container) => notFound(`No such container: ${c.config.name}`, 'it was removed meanwhile; see `tsrun ps -a`');

function locked(c: Container, take: () => Lock): Lock {
  try {
    return take();
  } catch (err) {
    if (hasCode(err, 'ENOENT')) throw gone(c);
    throw err;
  }
}

/** The container's lock, for a caller that acts on it (blocks until free). */
export function lockContainer(c: Container): Lock {
  return locked(c, () => lockDirExclusive(c.dir));
}

function fresh(ctx: Ctx, c0: Container, verb: Verb): Container {
  const c = refreshLocked(ctx, c0.config.id);
  if (!c) throw gone(c0);
  checkStatus(c, verb);
  return c;
}

/** Run `act` on the refreshed, checked container with its lock held (synchronous verbs). */
export function transitionSync<T>(ctx: Ctx, c0: Container, verb: Verb, act: (c: Container) => T): T {
  const lock = lockContainer(c0);
  try {
    return act(fresh(ctx, c0, verb));
  } finally {
    lock.release();
  }
}

/** Run `act` on the refreshed, checked container with its lock held; waits for the lock without blocking the event loop. */
export async function transition<T>(ctx: Ctx, c0: Container, verb: Verb, act: (c: Container) => Promise<T> | T): Promise<T> {
  const lock = await lockDirExclusiveAsync(c0.dir).catch((err: unknown) => {
    throw hasCode(err, 'ENOENT') ? gone(c0) : err;
  });
  try {
    return await act(fresh(ctx, c0, verb));
  } finally {
    lock.release();
  }
}
