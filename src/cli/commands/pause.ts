import type { Command } from 'commander';
import { action, eachContainer } from '../common.js';
import { pauseContainer } from '../../containers/pause.js';

export function register(program: Command): void {
  program
    .command('pause')
    .description('Pause all processes within one or more containers')
    .argument('<container...>', 'CONTAINER (name or ID)')
    .action(
      action((refs: string[], _opts: unknown, cmd: Command) => eachContainer(cmd, refs, (ctx, c) => pauseContainer(ctx, c))),
    );
}
