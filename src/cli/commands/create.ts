import type { Command } from 'commander';
import { action, ctxCreating, toStderr } from '../common.js';
import { addRunFlags, runFlags } from './run-flags.js';
import { createOnly } from '../../ops/run.js';

export function register(program: Command): void {
  addRunFlags(
    program
      .command('create')
      .description('Create a new container from an image without starting it')
      .argument('<image>', 'IMAGE')
      .argument('[command...]', 'COMMAND [ARG...]')
      .passThroughOptions(),
  ).action(
    action(async (image: string, command: string[], opts: Record<string, unknown>, cmd: Command) => {
      const c = await createOnly(ctxCreating(cmd), image, command, runFlags(opts, false), toStderr);
      process.stdout.write(`${c.config.id}\n`);
    }),
  );
}
