import type { Command } from 'commander';
import { action, ctxOf, parseIntOption } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { restartContainer } from '../../containers/restart.js';
import { parseSignal } from '../../containers/kill.js';

export function register(program: Command): void {
  program
    .command('restart')
    .description('Restart one or more containers')
    .argument('<container...>', 'CONTAINER (name or ID)')
    .option('-t, --time <seconds>', 'seconds to wait before killing the container', parseIntOption('--time'))
    .option('-s, --signal <signal>', 'signal to send to the container')
    .action(
      action(async (refs: string[], opts: { time?: number; signal?: string }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        if (opts.signal) parseSignal(opts.signal);
        const list = refs.map((r) => findContainer(ctx, r));
        for (let i = 0; i < list.length; i++) {
          await restartContainer(ctx, list[i]!, { timeout: opts.time, signal: opts.signal });
          process.stdout.write(`${refs[i]}\n`);
        }
      }),
    );
}
