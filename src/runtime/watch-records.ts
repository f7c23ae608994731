/**
 * The monitor's io.tsrun.watch annotation (native/init/watch.c reads it): how the
 * monitor runs tsrun, whether it hands over to `tsrun __on-exit` when the
 * container exits (a restart policy), the healthcheck schedule, and the file
 * whose presence at exit means hand over all the same (`update --restart`
 * gives a running container a policy: ON_EXIT_MARKER). Every container but a
 * --rm one (docker refuses a policy for those) has the record, so that a later
 * update is honoured by the monitor already running.
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

/** In the container's dir: written by `update --restart` (a policy other than no), read by the monitor at exit. */
export const ON_EXIT_MARKER = 'on-exit';

export function watchFields(c: Container, node: string, bin: string, root: string, detach: boolean): (string | number)[] | undefined {
  const onExit = policyOf(c).name !== 'no' || (detach && !c.config.host.autoRemove && ownNetwork(c));
  const probe = probeOf(c);
  const updatable = !c.config.host.autoRemove;
  if (!onExit && !probe && !updatable) return undefined;
  const t = healthTimings(c);
  const marker = updatable ? `${c.dir}/${ON_EXIT_MARKER}` : '';
  return [node, bin, root, c.config.id, onExit ? 1 : 0, probe ? t.intervalMs : 0, probe ? t.startPeriodMs : 0, probe ? t.startIntervalMs : 0, marker];
}
