/**
 * `tsrun start --all-restart`: what docker's daemon does for restart policies
 * when it starts, for the boot (tsrun-restart.service runs it; see
 * contrib/systemd/). Every container whose policy says so and that is not
 * running is started: always, and unless-stopped unless the user stopped it
 * (restart-policy.ts startsAtBoot). Records left "running" by the reboot are
 * first seen dead by refresh ("monitor lost"), their cgroups and networks
 * released. As docker's, this start resets the restart count and manual-stop mark.
 */
import type { Ctx } from '../context.js';
import { listContainers, type Container } from '../containers/record.js';
import { isRunning, refresh } from '../containers/status.js';
import { isRestarting, startsAtBoot } from '../containers/restart-policy.js';
import { startContainer } from '../containers/start.js';

export interface BootResult {
  started: Container[];
  failed: { container: Container; error: Error }[];
}

export async function startRestartPolicyContainers(ctx: Ctx): Promise<BootResult> {
  const out: BootResult = { started: [], failed: [] };
  // oldest first, so a container another one joins (container:NAME) tends to be up before it
  const all = listContainers(ctx).reverse();
  for (const c0 of all) {
    const c = refresh(ctx, c0);
    if (isRunning(c) || isRestarting(c) || !startsAtBoot(c)) continue;
    try {
      await startContainer(ctx, c, { detach: true });
      out.started.push(c);
    } catch (err) {
      out.failed.push({ container: c, error: err as Error });
    }
  }
  return out;
}
