import type { Command } from 'commander';
import { action, checkTty, ctxCreating, toStderr } from '../common.js';
import { addRunFlags, runFlags } from './run-flags.js';
import { runContainer } from '../../ops/run.js';

export function register(program: Command): void {
  addRunFlags(
    program
      .command('run')
      .description('Create and run a new container from an image')
      .argument('<image>', 'IMAGE')
      .argument('[command...]', 'COMMAND [ARG...]')
      .passThroughOptions()
      .option('-d, --detach', 'run the container in the background and print its ID', false)
      .option('--detach-keys <keys>', 'override the key sequence for detaching a container (default ctrl-p,ctrl-q; -it only)'),
  ).action(
    action(async (image: string, command: string[], opts: Record<string, unknown>, cmd: Command) => {
      checkTty(!!opts.interactive, !!opts.tty, !!opts.detach);
      // checked before anything is created; config.json is read only for a terminal that can detach
      let keys: number[] | undefined;
      if (!opts.detach && (opts.detachKeys !== undefined || (opts.tty && opts.interactive))) {
        const { detachKeysFor } = await import('../detach-keys.js');
        keys = detachKeysFor(opts.detachKeys as string | undefined);
      }
      const r = await runContainer(ctxCreating(cmd), image, command, runFlags(opts, !!opts.detach), toStderr, keys);
      if (opts.detach) {
        process.stdout.write(`${r.id}\n`);
        return 0;
      }
      return r.exitCode ?? 0;
    }),
  );
}
