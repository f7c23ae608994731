import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { pauseContainer } from '../../containers/pause.js';

export function register(program: Command): void {
  program
    .command('pause')
    .description('Pause all processes within one or more containers')
    .argument('<container...>', 'CONTAINER (name or ID)')
    .action(
      action(async (refs: string[], _opts: unknown, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const list = refs.map((r) => findContainer(ctx, r));
        for (let i = 0; i < list.length; i++) {
          pauseContainer(ctx, list[i]!);
          process.stdout.write(`${refs[i]}\n`);
        }
      }),
    );
}
