import type { Command } from 'commander';
import { action, eachContainer } from '../common.js';
import { killContainer, parseSignal } from '../../containers/kill.js';
import { isRunning, refresh, requireRunning } from '../../containers/status.js';
import { waitForExit } from '../../containers/wait.js';

export function register(program: Command): void {
  program
    .command('kill')
    .description('Kill one or more running containers')
    .argument('<container...>', 'CONTAINER (name or ID)')
    .option('-s, --signal <signal>', 'signal to send to the container', 'KILL')
    .action(
      action(async (refs: string[], opts: { signal: string }, cmd: Command) => {
        const signal = parseSignal(opts.signal); // a bad signal fails before any container is touched
        return eachContainer(cmd, refs, async (ctx, c) => {
          requireRunning(refresh(ctx, c), 'kill');
          const killed = killContainer(ctx, c, signal);
          // docker's daemon waits for a SIGKILLed container to exit before it answers (moby's
          // daemon.Kill): `kill x; inspect x` then reads it stopped. Bounded as moby's is.
          if (signal.number === 9 && isRunning(killed)) await waitForExit(ctx, killed, 10_000);
        });
      }),
    );
}
