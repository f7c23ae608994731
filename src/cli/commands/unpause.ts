import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { unpauseContainer } from '../../containers/pause.js';

export function register(program: Command): void {
  program
    .command('unpause')
    .description('Unpause all processes within one or more containers')
    .argument('<container...>', 'CONTAINER (name or ID)')
    .action(
      action(async (refs: string[], _opts: unknown, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const list = refs.map((r) => findContainer(ctx, r));
        for (let i = 0; i < list.length; i++) {
          unpauseContainer(ctx, list[i]!);
          process.stdout.write(`${refs[i]}\n`);
        }
      }),
    );
}
