/**
 * `tsrun container SUB …`: docker's management-command spelling. Each
 * subcommand re-enters main() with the top-level verb, so every verb keeps
 * one implementation (and its own lazy import).
 */
import type { Command } from 'commander';
import { action, globalOpts } from '../common.js';
import { usageError } from '../../util/errors.js';

const ALIASES: Record<string, string> = {
  ls: 'ps',
  list: 'ps',
  ps: 'ps',
  rm: 'rm',
  remove: 'rm',
  stop: 'stop',
  kill: 'kill',
  start: 'start',
  attach: 'attach',
  inspect: 'inspect',
  logs: 'logs',
  export: 'export',
  rename: 'rename',
  top: 'top',
  cp: 'cp',
  wait: 'wait',
  restart: 'restart',
  pause: 'pause',
  unpause: 'unpause',
  update: 'update',
  create: 'create',
  run: 'run',
  exec: 'exec',
  commit: 'commit',
  diff: 'diff',
  prune: 'container-prune',
};

export function register(program: Command): void {
  program
    .command('container')
    .description(`Manage containers (${Object.keys(ALIASES).join(', ')})`)
    .argument('[subcommand]', 'what to do')
    .argument('[args...]', 'its arguments')
    .allowUnknownOption()
    .passThroughOptions()
    .helpOption(false)
    .action(
      action(async (sub: string | undefined, args: string[], _opts: unknown, cmd: Command) => {
        // `tsrun container` alone prints the usage, exit 0, as docker's management commands
        if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
          cmd.outputHelp();
          return 0;
        }
        const verb = ALIASES[sub];
        if (!verb) throw usageError(`unknown container subcommand ${JSON.stringify(sub)}`, `use one of ${Object.keys(ALIASES).join(', ')}`);
        if (verb === 'inspect' && !args.includes('--type')) args = ['--type', 'container', ...args];
        const g = globalOpts(cmd);
        const { main } = await import('../main.js');
        return main(['--root', g.root, ...(g.debug ? ['--debug'] : []), verb, ...args], `container ${sub}`);
      }),
    );
}
