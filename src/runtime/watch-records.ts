/**
 * The monitor's "watch" plan record (native/init/watch.c reads it): how the
 * monitor runs tsrun, whether it hands over to `tsrun __on-exit` when the
 * container exits (a restart policy), and the healthcheck schedule.
 * undefined when the container has neither: the monitor then does as before.
 */
import type { Container } from '../containers/record.js';
import { policyOf } from '../containers/restart-policy.js';
import { healthTimings, probeOf } from '../containers/health.js';

export function watchFields(c: Container, node: string, bin: string, root: string): (string | number)[] | undefined {
  const onExit = policyOf(c).name !== 'no';
  const probe = probeOf(c);
  if (!onExit && !probe) return undefined;
  const t = healthTimings(c);
  return [node, bin, root, c.config.id, onExit ? 1 : 0, probe ? t.intervalMs : 0, probe ? t.startPeriodMs : 0, probe ? t.startIntervalMs : 0];
}
