/** pause / unpause: freeze and thaw the container's cgroup (state paused). */
import path from 'node:path';
import type { Ctx } from '../context.js';
import { conflict } from '../util/errors.js';
import { lockExclusive } from '../util/lock.js';
import { readContainer, writeState, type Container } from './record.js';
import { refresh, requireRunning } from './status.js';
import { freezeCgroup, thawCgroup } from '../runtime/cgroups.js';

function underLock<T>(ctx: Ctx, c: Container, fn: (c: Container) => T): T {
  const lock = lockExclusive(path.join(c.dir, 'lock'));
  try {
    return fn(readContainer(ctx, c.config.id) ?? c);
  } finally {
    lock.release();
  }
}

export function pauseContainer(ctx: Ctx, c0: Container): Container {
  const c = refresh(ctx, c0);
  if (c.state.status === 'paused') throw conflict(`container ${c.config.name} is already paused`, `tsrun unpause ${c.config.name}`);
  requireRunning(c, 'pause', false);
  return underLock(ctx, c, (fresh) => {
    freezeCgroup(fresh.config.id, ctx);
    writeState(fresh, { ...fresh.state, status: 'paused' });
    return fresh;
  });
}

export function unpauseContainer(ctx: Ctx, c0: Container): Container {
  const c = refresh(ctx, c0);
  if (c.state.status !== 'paused') throw conflict(`container ${c.config.name} is not paused (status ${c.state.status})`, 'only a paused container can be unpaused');
  return underLock(ctx, c, (fresh) => {
    thawCgroup(fresh.config.id, ctx);
    writeState(fresh, { ...fresh.state, status: 'running' });
    return fresh;
  });
}
