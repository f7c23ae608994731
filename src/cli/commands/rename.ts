import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { renameContainer } from '../../containers/rename.js';

export function register(program: Command): void {
  program
    .command('rename')
    .description('Rename a container')
    .argument('<container>', 'CONTAINER (name or ID)')
    .argument('<new-name>', 'NEW_NAME')
    .action(
      action(async (ref: string, newName: string, _opts: unknown, cmd: Command) => {
        const ctx = ctxOf(cmd);
        renameContainer(ctx, findContainer(ctx, ref), newName);
      }),
    );
}
