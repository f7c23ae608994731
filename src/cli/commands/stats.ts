/**
 * `tsrun stats [--no-stream] [--no-trunc] [-a] [--format …] [CONTAINER…]`:
 * docker's live table of what containers use. The numbers come from
 * ops/stats.ts; this prints them as docker's CLI does (formatter_stats.go):
 * "%.2f%%" percentages, binary units for memory (1.5MiB / 7.773GiB), decimal
 * ones with 3 digits for network and block I/O (1.45kB / 0B).
 *
 * Every frame needs two readings (CPU % is a rate): the first frame comes
 * after a short window (SAMPLE_MS), later ones every second against the frame
 * before. On a terminal each frame overwrites the last in place.
 */
import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { formatOption, renderFormatted, type FormatSpec } from '../format.js';
import { GoStruct, method } from '../../util/template/index.js';
import { bytesSize, humanSizeWithPrecision, percent } from '../../util/units.js';
import type { StatsEntry } from '../../ops/stats.js';

/** The window between the two readings of the first frame (and of --no-stream). */
const SAMPLE_MS = 200;
const REFRESH_MS = 1000;

interface StatsOpts {
  all?: boolean;
  stream?: boolean;
  trunc?: boolean;
  format?: string;
}

export const STATS_FORMAT: FormatSpec = {
  defaultTable: 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}',
  header: {
    Container: 'CONTAINER',
    ID: 'CONTAINER ID',
    Name: 'NAME',
    CPUPerc: 'CPU %',
    MemUsage: 'MEM USAGE / LIMIT',
    MemPerc: 'MEM %',
    NetIO: 'NET I/O',
    BlockIO: 'BLOCK I/O',
    PIDs: 'PIDS',
  },
};

/** docker's *formatter.statsContext: the fields a stats template can use. */
export function statsContext(e: StatsEntry, trunc: boolean): GoStruct {
  const str = (f: () => string) => method([], f);
  return new GoStruct('*formatter.statsContext', {
    Container: str(() => e.container),
    Name: str(() => e.name || '--'),
    ID: str(() => (trunc ? e.id.slice(0, 12) : e.id)),
    CPUPerc: str(() => percent(e.cpuPercent)),
    MemUsage: str(() => `${bytesSize(e.memUsage)} / ${bytesSize(e.memLimit)}`),
    MemPerc: str(() => percent(e.memPercent)),
    NetIO: str(() => `${humanSizeWithPrecision(e.netRx, 3)} / ${humanSizeWithPrecision(e.netTx, 3)}`),
    BlockIO: str(() => `${humanSizeWithPrecision(e.blkRead, 3)} / ${humanSizeWithPrecision(e.blkWrite, 3)}`),
    PIDs: str(() => String(e.pids)),
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function register(program: Command): void {
  const cmd = program
    .command('stats')
    .description('Display a live stream of container(s) resource usage statistics')
    .argument('[containers...]', 'CONTAINER (default: every running container)')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('--no-stream', 'disable streaming stats and only pull the first result')
    .option('--no-trunc', 'do not truncate output');
  formatOption(cmd, '{{.Name}} {{.CPUPerc}} {{.MemUsage}}…').action(
    action(async (refs: string[], opts: StatsOpts, c: Command) => {
      const { statsTargets, refreshTargets, sampleTargets, computeEntries } = await import('../../ops/stats.js');
      const ctx = ctxOf(c);
      const trunc = opts.trunc !== false;
      const tty = process.stdout.isTTY === true && opts.stream !== false;
      const render = (entries: StatsEntry[]) =>
        renderFormatted(
          opts.format,
          entries.map((e) => statsContext(e, trunc)),
          STATS_FORMAT,
        );
      // a bad template fails before the first reading, with nothing printed
      render([]);
      let targets = statsTargets(ctx, refs, !!opts.all);
      let prev = sampleTargets(ctx, targets);
      await sleep(SAMPLE_MS);
      for (;;) {
        const cur = sampleTargets(ctx, targets);
        const text = render(computeEntries(targets, prev, cur));
        if (opts.stream === false) {
          process.stdout.write(text);
          return;
        }
        // in place: home, each line cleared to its end, the rest of the screen cleared
        process.stdout.write(tty ? `\x1b[H${text.replace(/\n/g, '\x1b[K\n')}\x1b[J` : text);
        await sleep(REFRESH_MS);
        prev = cur;
        // a listing follows containers that start and stop; named ones stay (a removed one leaves the table)
        targets = refs.length ? refreshTargets(ctx, targets) : statsTargets(ctx, refs, !!opts.all);
      }
    }),
  );
}
