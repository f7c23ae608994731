import type { Command } from 'commander';
import { action, eachContainer } from '../common.js';
import { addResourceFlags, resourceFlags } from './run-flags.js';
import { parseUpdate, updateContainer } from '../../containers/update.js';

export function register(program: Command): void {
  addResourceFlags(
    program
      .command('update')
      .description('Update configuration of one or more containers')
      .argument('<container...>', 'CONTAINER (name or ID)')
      .option('--restart <policy>', 'restart policy to apply when a container exits (no, on-failure[:N], always, unless-stopped)'),
  ).action(
    action((refs: string[], opts: Record<string, unknown>, cmd: Command) => {
      const change = parseUpdate(resourceFlags(opts), opts.restart as string | undefined);
      return eachContainer(cmd, refs, (ctx, c) => updateContainer(ctx, c, change));
    }),
  );
}
