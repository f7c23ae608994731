/** pause / unpause: freeze and thaw the container's cgroup (state paused), each one locked transition. */
import type { Ctx } from '../context.js';
import { writeState, type Container } from './record.js';
import { transitionSync } from './transition.js';
import { freezeCgroup, thawCgroup } from '../runtime/cgroups.js';

export function pauseContainer(ctx: Ctx, c0: Container): Container {
  return transitionSync(ctx, c0, 'pause', (c) => {
    freezeCgroup(c.config.id, ctx);
    writeState(c, { ...c.state, status: 'paused' });
    return c;
  });
}

export function unpauseContainer(ctx: Ctx, c0: Container): Container {
  return transitionSync(ctx, c0, 'unpause', (c) => {
    thawCgroup(c.config.id, ctx);
    writeState(c, { ...c.state, status: 'running' });
    return c;
  });
}
