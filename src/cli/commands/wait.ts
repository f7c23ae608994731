import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { waitForExit } from '../../containers/wait.js';

export function register(program: Command): void {
  program
    .command('wait')
    .description('Block until one or more containers stop, then print their exit codes')
    .argument('<container...>', 'CONTAINER (name or ID)')
    .action(
      action(async (refs: string[], _opts: unknown, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const list = refs.map((r) => findContainer(ctx, r));
        for (const c of list) {
          const done = await waitForExit(ctx, c);
          process.stdout.write(`${done?.state.exitCode ?? 0}\n`);
        }
      }),
    );
}
