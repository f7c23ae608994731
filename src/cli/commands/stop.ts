import type { Command } from 'commander';
import { action, eachContainer, parseIntOption } from '../common.js';
import { stopContainer } from '../../containers/stop.js';
import { parseSignal } from '../../containers/kill.js';
import type { Ctx } from '../../context.js';
import type { Container } from '../../containers/record.js';

type StopFn = (ctx: Ctx, c: Container, opts: { timeout?: number; signal?: string }) => Promise<unknown>;

/** `stop` and `restart`: docker's -t and -s, then `fn` on each container. */
export function stopLikeCommand(program: Command, name: string, description: string, fn: StopFn): void {
  program
    .command(name)
    .description(description)
    .argument('<container...>', 'CONTAINER (name or ID)')
    .option('-t, --timeout <seconds>', 'seconds to wait before killing the container', parseIntOption('--timeout'))
    .option('--time <seconds>', 'deprecated alias of --timeout (docker)', parseIntOption('--time'))
    .option('-s, --signal <signal>', 'signal to send to the container')
    .action(
      action(async (refs: string[], opts: { timeout?: number; time?: number; signal?: string }, cmd: Command) => {
        if (opts.signal) parseSignal(opts.signal); // bad input fails before anything is touched
        const timeout = opts.timeout ?? opts.time;
        return eachContainer(cmd, refs, (ctx, c) => fn(ctx, c, { timeout, signal: opts.signal }));
      }),
    );
}

export function register(program: Command): void {
  stopLikeCommand(program, 'stop', 'Stop one or more running containers', stopContainer);
}
