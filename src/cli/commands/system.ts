/** `tsrun system df|prune|info`: docker's system commands (no `events`: see README). */
import type { Command } from 'commander';
import { action, collect, ctxOf, globalOpts } from '../common.js';
import { confirm } from '../confirm.js';
import { addDfCommand } from './system-df.js';
import { goHumanSize } from '../../util/units.js';

interface PruneOpts {
  all?: boolean;
  volumes?: boolean;
  force?: boolean;
  filter: string[];
}

/** docker's warning, listing what this prune removes. */
function pruneWarning(o: PruneOpts): string {
  const items = ['all stopped containers', 'all networks not used by at least one container'];
  if (o.volumes) items.push('all anonymous volumes not used by at least one container');
  items.push(o.all ? 'all images without at least one container associated to them' : 'all dangling images');
  items.push(o.all ? 'all build cache' : 'unused build cache');
  return `WARNING! This will remove:\n${items.map((i) => `  - ${i}\n`).join('')}\nAre you sure you want to continue? [y/N] `;
}

export function register(program: Command): void {
  const system = program.command('system').description('Manage tsrun (df, prune, info)');
  addDfCommand(system);
  system
    .command('prune')
    .description('Remove unused data')
    .option('-a, --all', 'remove all unused images not just dangling ones')
    .option('--volumes', 'prune anonymous volumes')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', "provide filter values (e.g. 'label=<key>=<value>', 'until=24h')", collect, [])
    .action(
      action(async (o: PruneOpts, cmd: Command) => {
        const { systemPrune } = await import('../../ops/prune-system.js');
        const { parsePruneFilters } = await import('../../ops/prune-filters.js');
        parsePruneFilters(o.filter); // a bad filter fails before the prompt
        if (!o.force && !(await confirm(pruneWarning(o)))) return;
        const r = await systemPrune(ctxOf(cmd), { all: !!o.all, volumes: !!o.volumes, filters: o.filter });
        let out = '';
        const part = (title: string, items: string[], prefix = '') => {
          if (items.length) out += `${title}:\n${items.map((i) => `${prefix}${i}\n`).join('')}\n`;
        };
        part('Deleted Containers', r.containers);
        part('Deleted Networks', r.networks);
        part('Deleted Volumes', r.volumes);
        part('Deleted Images', r.images, 'deleted: ');
        part('Deleted build cache objects', r.buildCache);
        out += `Total reclaimed space: ${goHumanSize(r.reclaimed)}\n`;
        process.stdout.write(out);
      }),
    );
  system
    .command('info')
    .description('Display system-wide information (as `tsrun info`)')
    .argument('[args...]', 'its options (--format)')
    .allowUnknownOption()
    .passThroughOptions()
    .helpOption(false)
    .action(
      action(async (args: string[], _o: unknown, cmd: Command) => {
        const g = globalOpts(cmd);
        const { main } = await import('../main.js');
        return main(['--root', g.root, ...(g.debug ? ['--debug'] : []), 'info', ...args], 'system info');
      }),
    );
}
