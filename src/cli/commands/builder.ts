/** `tsrun builder prune`: docker's build cache verb (the cache is ops/build/cache-prune.ts's). */
import type { Command } from 'commander';
import { confirm } from '../confirm.js';
import { action, ctxOf, humanSize } from '../common.js';
import { usageError } from '../../util/errors.js';
import { parseLogTime as parseUntil } from '../../ops/container-logs.js';

export function register(program: Command): void {
  const builder = program.command('builder').description('Manage the build cache (prune)');
  builder
    .command('prune')
    .description('Remove build cache')
    .option('-a, --all', 'remove all build cache, not just what no image uses')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'until=TIMESTAMP|DURATION: only cache made or used before then (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .action(
      action(async (opts: { all?: boolean; force?: boolean; filter: string[] }, cmd: Command) => {
        let until: number | undefined;
        for (const f of opts.filter) {
          const eq = f.indexOf('=');
          const k = eq < 0 ? f : f.slice(0, eq);
          if (k !== 'until') throw usageError(`invalid filter ${JSON.stringify(f)}`, 'builder prune takes --filter until=TIMESTAMP|DURATION');
          until = parseUntil(f.slice(eq + 1));
        }
        if (!opts.force) {
          const what = opts.all ? 'all build cache' : 'all dangling build cache';
          if (!(await confirm(`WARNING! This will remove ${what}.\nAre you sure you want to continue? [y/N] `))) return;
        }
        const { pruneBuildCache } = await import('../../ops/build/cache-prune.js');
        const r = await pruneBuildCache(ctxOf(cmd), { all: !!opts.all, until });
        let text = '';
        if (r.deleted.length) text += `Deleted build cache objects:\n${r.deleted.map((d) => d.slice(0, 25)).join('\n')}\n\n`;
        text += `Total:\t${humanSize(r.reclaimed)}\n`;
        process.stdout.write(text);
      }),
    );
}
