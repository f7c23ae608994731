import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { containerLogs, parseLogTime, parseTail } from '../../ops/container-logs.js';

export function register(program: Command): void {
  program
    .command('logs')
    .description('Fetch the logs of a container')
    .argument('<container>', 'CONTAINER (name or ID)')
    .option('-f, --follow', 'follow log output')
    .option('-n, --tail <n>', 'number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option('--since <time>', 'show logs since a timestamp or relative time (e.g. 42m)')
    .option('--until <time>', 'show logs before a timestamp or relative time')
    .action(
      action(async (ref: string, opts: { follow?: boolean; tail: string; timestamps?: boolean; since?: string; until?: string }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const tail = parseTail(opts.tail);
        const since = opts.since !== undefined ? parseLogTime(opts.since) : undefined;
        const until = opts.until !== undefined ? parseLogTime(opts.until) : undefined;
        const c = findContainer(ctx, ref);
        await containerLogs(ctx, c, { follow: opts.follow, tail, timestamps: opts.timestamps, since, until }, (stream, text) => {
          (stream === 'stderr' ? process.stderr : process.stdout).write(text);
        });
      }),
    );
}
