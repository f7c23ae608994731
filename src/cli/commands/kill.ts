import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
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
        const ctx = ctxOf(cmd);
        const signal = parseSignal(opts.signal);
        const list = refs.map((r) => findContainer(ctx, r));
        for (const c of list) requireRunning(refresh(ctx, c), 'kill'); // check all before signalling any
        for (let i = 0; i < list.length; i++) {
          killContainer(ctx, list[i]!, signal);
          process.stdout.write(`${refs[i]}\n`);
        }
      }),
    );
}
