import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { containerTop } from '../../ops/container-top.js';

export function register(program: Command): void {
  program
    .command('top')
    .description('Display the running processes of a container')
    .argument('<container>', 'CONTAINER (name or ID)')
    .argument('[ps-options...]', 'options passed to ps (default -f)')
    .allowUnknownOption()
    .passThroughOptions()
    .action(
      action(async (ref: string, psArgs: string[], _opts: unknown, cmd: Command) => {
        const ctx = ctxOf(cmd);
        process.stdout.write(containerTop(ctx, findContainer(ctx, ref), psArgs));
      }),
    );
}
