/**
 * `tsrun container prune [-f] [--filter until=…|label=…]`: remove every
 * container that is not running or paused (docker's list and output:
 * "Deleted Containers:", full IDs, "Total reclaimed space: …"). Reached as
 * `tsrun container prune`; the top-level name is hidden (docker has no `prune`).
 */
import type { Command } from 'commander';
import { action, collect, ctxOf } from '../common.js';
import { confirm } from '../confirm.js';
import { goHumanSize } from '../../util/units.js';

export function register(program: Command): void {
  program
    .command('container-prune', { hidden: true })
    .description('Remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', "provide filter values (e.g. 'until=<timestamp>', 'label=<key>=<value>')", collect, [])
    .action(
      action(async (o: { force?: boolean; filter: string[] }, cmd: Command) => {
        const { pruneContainers } = await import('../../ops/prune-system.js');
        const { parsePruneFilters } = await import('../../ops/prune-filters.js');
        parsePruneFilters(o.filter); // a bad filter fails before the prompt
        if (!o.force && !(await confirm('WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] '))) return;
        const r = await pruneContainers(ctxOf(cmd), o.filter);
        let out = '';
        if (r.deleted.length) out += `Deleted Containers:\n${r.deleted.map((id) => `${id}\n`).join('')}\n`;
        out += `Total reclaimed space: ${goHumanSize(r.reclaimed)}\n`;
        process.stdout.write(out);
      }),
    );
}
