/**
 * `tsrun __on-exit ID` (hidden): run by a container's monitor when the
 * container exits and it has a restart policy (native/init/watch.c); applies
 * the policy (src/ops/restart-watch.ts). Not for users.
 */
import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { onContainerExit } from '../../ops/restart-watch.js';

export function register(program: Command): void {
  program
    .command('__on-exit', { hidden: true })
    .argument('<id>', 'container ID')
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        await onContainerExit(ctxOf(cmd), id);
      }),
    );
}
