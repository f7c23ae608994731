/**
 * The monitor's io.tsrun.watch annotation (native/init/watch.c reads it): how the
 * monitor runs tsrun, whether it hands over to `tsrun __on-exit` when the
 * container exits (a restart policy), and the healthcheck schedule.
 * undefined when the container has neither: the monitor then does as before.
 */
import type { Container } from '../containers/record.js';
import { policyOf } from '../containers/restart-policy.js';
import { healthTimings, probeOf } from '../containers/health.js';

/**
 * A detached container on a netavark network hands over too, with no restart
 * policy: nobody else would see it exit, and `__on-exit` records the exit and
 * hands its network's teardown to a job (network/pending.ts), so its address,
 * veth and rules go when it ends rather than at the next command. (--rm has
 * its own exit path: rm -f.) Inlined, not attach.ts's usesNetavark: the run
 * path does not load the network modules for none/host.
 */
function ownNetwork(c: Container): boolean {
  const mode = c.config.host.network;
  return mode !== 'none' && mode !== 'host' && !mode.startsWith('container:');
}

export function watchFields(c: Container, node: string, bin: string, root: string, detach: boolean): (string | number)[] | undefined {
  const onExit = policyOf(c).name !== 'no' || (detach && !c.config.host.autoRemove && ownNetwork(c));
  const probe = probeOf(c);
  if (!onExit && !probe) return undefined;
  const t = healthTimings(c);
  return [node, bin, root, c.config.id, onExit ? 1 : 0, probe ? t.intervalMs : 0, probe ? t.startPeriodMs : 0, probe ? t.startIntervalMs : 0];
}
