import type { Command } from 'commander';
import { action, eachContainer } from '../common.js';
import { unpauseContainer } from '../../containers/pause.js';

export function register(program: Command): void {
  program
    .command('unpause')
    .description('Unpause all processes within one or more containers')
    .argument('<container...>', 'CONTAINER (name or ID)')
    .action(
      action((refs: string[], _opts: unknown, cmd: Command) => eachContainer(cmd, refs, (ctx, c) => unpauseContainer(ctx, c))),
    );
}
