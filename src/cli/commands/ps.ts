import type { Command } from 'commander';
import { portsColumn } from '../../runtime/network/settings.js';
import { action, collect, ctxOf, goTime, humanAgo, humanDuration, parseIntOption } from '../common.js';
import { formatOption, writeFormatted, type FormatSpec } from '../format.js';
import { GoStruct, method } from '../../util/template/index.js';
import { goQuote } from '../../util/template/strconv.js';
import type { Container } from '../../containers/record.js';
import { listForPs } from '../../ops/container-list.js';
import { dockerStatus, isRestarting } from '../../containers/restart-policy.js';
import { healthSuffix } from '../../containers/health.js';

interface PsOpts {
  all?: boolean;
  quiet?: boolean;
  noTrunc?: boolean;
  format?: string;
  last?: number;
  latest?: boolean;
  filter?: string[];
}

/** docker's stringutils.Ellipsis: cut to max chars, the last being "…". */
function ellipsis(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, max - 1).join('') + '…';
}

function statusText(c: Container, now: number): string {
  const s = c.state;
  switch (s.status) {
    case 'running':
    case 'paused': {
      const up = s.startedAt ? humanDuration(Math.max(0, now - Date.parse(s.startedAt)) / 1000) : 'Less than a second';
      return `Up ${up}${s.status === 'paused' ? ' (Paused)' : healthSuffix(c)}`;
    }
    case 'exited':
      if (isRestarting(c)) return `Restarting (${s.exitCode ?? 0}) ${humanAgo(s.finishedAt, now)}`;
      return `Exited (${s.exitCode ?? 0}) ${humanAgo(s.finishedAt, now)}`;
    default:
      return 'Created';
  }
}

/**
 * docker's *formatter.ContainerContext: the fields a ps template can use, as
 * methods (a missing one is an error naming that type, as docker's is).
 */
function containerContext(c: Container, trunc: boolean, now: number): GoStruct {
  const cmd = [c.config.path, ...c.config.args].join(' ');
  const labels = c.config.labels ?? {};
  const str = (f: () => string) => method([], f);
  return new GoStruct('*formatter.ContainerContext', {
    ID: str(() => (trunc ? c.config.id.slice(0, 12) : c.config.id)),
    Names: str(() => c.config.name),
    Image: str(() => c.config.image || '<no image>'),
    Command: str(() => goQuote(trunc ? ellipsis(cmd, 20) : cmd)),
    CreatedAt: str(() => goTime(c.config.created)),
    RunningFor: str(() => humanAgo(c.config.created, now)),
    Ports: str(() => portsColumn(c)),
    State: str(() => dockerStatus(c)),
    Status: str(() => statusText(c, now)),
    Size: str(() => '0B'),
    Labels: str(() =>
      Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .sort()
        .join(','),
    ),
    Label: method(['string'], (name: string) => labels[name] ?? ''),
    Mounts: str(() =>
      c.config.host.mounts
        .filter((m) => m.type !== 'tmpfs')
        .map((m) => (m.type === 'volume' ? m.name : m.source) ?? m.destination)
        .map((n) => (trunc ? ellipsis(n, 15) : n))
        .join(','),
    ),
    LocalVolumes: str(() => String(c.config.host.mounts.filter((m) => m.type === 'volume').length)),
    Networks: str(() => c.config.host.network),
  });
}

export const PS_FORMAT: FormatSpec = {
  defaultTable: 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}',
  header: {
    ID: 'CONTAINER ID',
    Names: 'NAMES',
    Image: 'IMAGE',
    Command: 'COMMAND',
    CreatedAt: 'CREATED AT',
    RunningFor: 'CREATED',
    Ports: 'PORTS',
    State: 'STATE',
    Status: 'STATUS',
    Size: 'SIZE',
    Labels: 'LABELS',
    Mounts: 'MOUNTS',
    LocalVolumes: 'LOCAL VOLUMES',
    Networks: 'NETWORKS',
  },
};

export function register(program: Command): void {
  const cmd = program
    .command('ps')
    .description('List containers')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('-q, --quiet', 'only display container IDs')
    .option('--no-trunc', "don't truncate output")
    .option('-n, --last <n>', 'show n last created containers (includes all states)', parseIntOption('--last'))
    .option('-l, --latest', 'show the latest created container (includes all states)')
    .option('-f, --filter <filter>', 'filter output (status=, name=, id=, health=)', collect, []);
  formatOption(cmd, '{{.ID}} {{.Names}} {{.Label "x"}}…').action(
      action(async (opts: PsOpts & { trunc?: boolean }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const noTrunc = opts.trunc === false;
        const last = opts.latest ? 1 : opts.last;
        const list = listForPs(ctx, { all: opts.all, last, filters: opts.filter });
        const now = Date.now();
        if (opts.quiet) {
          for (const c of list) process.stdout.write(`${noTrunc ? c.config.id : c.config.id.slice(0, 12)}\n`);
          return;
        }
        writeFormatted(
          opts.format,
          list.map((c) => containerContext(c, !noTrunc, now)),
          PS_FORMAT,
        );
      }),
    );
}
