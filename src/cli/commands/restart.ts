import type { Command } from 'commander';
import { action, eachContainer, parseIntOption } from '../common.js';
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
        if (opts.signal) parseSignal(opts.signal); // bad input fails before anything is touched
        await eachContainer(cmd, refs, (ctx, c) => restartContainer(ctx, c, { timeout: opts.time, signal: opts.signal }));
      }),
    );
}
