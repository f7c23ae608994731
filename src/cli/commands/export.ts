import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { exportContainer } from '../../ops/container-export.js';
import { usageError } from '../../util/errors.js';

export function register(program: Command): void {
  program
    .command('export')
    .description("Export a container's filesystem as a tar archive")
    .argument('<container>', 'CONTAINER (name or ID)')
    .option('-o, --output <file>', 'write to a file, instead of STDOUT')
    .action(
      action(async (ref: string, opts: { output?: string }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const c = findContainer(ctx, ref);
        if (!opts.output && process.stdout.isTTY) throw usageError('refusing to write a tar archive to a terminal', 'use -o FILE or redirect the output');
        try {
          exportContainer(ctx, c, opts.output);
        } catch (err) {
          // the reader went away (`tsrun export c | tar t | head`): not an error of ours, and nothing is left mounted
          if ((err as NodeJS.ErrnoException).code === 'EPIPE') return 141;
          throw err;
        }
      }),
    );
}
