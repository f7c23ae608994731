import type { Command } from 'commander';
import { action, eachContainer } from '../common.js';
import { killContainer, parseSignal } from '../../containers/kill.js';
import { refresh, requireRunning } from '../../containers/status.js';

export function register(program: Command): void {
  program
    .command('kill')
    .description('Kill one or more running containers')
    .argument('<container...>', 'CONTAINER (name or ID)')
    .option('-s, --signal <signal>', 'signal to send to the container', 'KILL')
    .action(
      action(async (refs: string[], opts: { signal: string }, cmd: Command) => {
        const signal = parseSignal(opts.signal); // a bad signal fails before any container is touched
        return eachContainer(cmd, refs, (ctx, c) => {
          requireRunning(refresh(ctx, c), 'kill');
          killContainer(ctx, c, signal);
        });
      }),
    );
}
