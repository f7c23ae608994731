import type { Command } from 'commander';
import { action, collect, ctxOf, humanAgo, humanDuration, parseIntOption, printTable } from '../common.js';
import { usageError } from '../../util/errors.js';
import type { Container } from '../../containers/record.js';
import { listForPs } from '../../ops/container-list.js';

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

/** "2024-05-01 10:00:00 +0000 UTC", docker's CreatedAt. */
function goTime(iso: string): string {
  return new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC');
}

function statusText(c: Container, now: number): string {
  const s = c.state;
  switch (s.status) {
    case 'running':
    case 'paused': {
      const up = s.startedAt ? humanDuration(Math.max(0, now - Date.parse(s.startedAt)) / 1000) : 'Less than a second';
      return `Up ${up}${s.status === 'paused' ? ' (Paused)' : ''}`;
    }
    case 'exited':
      return `Exited (${s.exitCode ?? 0}) ${humanAgo(s.finishedAt, now)}`;
    default:
      return 'Created';
  }
}

function fields(c: Container, noTrunc: boolean, now: number): Record<string, string> {
  const cmd = [c.config.path, ...c.config.args].join(' ');
  return {
    ID: noTrunc ? c.config.id : c.config.id.slice(0, 12),
    Image: c.config.image,
    Command: JSON.stringify(noTrunc ? cmd : ellipsis(cmd, 20)),
    CreatedAt: goTime(c.config.created),
    RunningFor: humanAgo(c.config.created, now),
    Status: statusText(c, now),
    Names: c.config.name,
    State: c.state.status,
    Ports: '',
    Labels: Object.entries(c.config.labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    Mounts: c.config.host.mounts.map((m) => m.source ?? m.destination).join(','),
    Networks: c.config.host.network,
    LocalVolumes: '0',
    Size: '0B',
  };
}

/** A Go-template subset: {{.Field}} placeholders and {{json .}}; a "table " prefix adds a header row. */
function renderTemplate(tpl: string, rows: Record<string, string>[]): string[] {
  const table = tpl.startsWith('table ');
  const body = table ? tpl.slice(6) : tpl;
  const fill = (r: Record<string, string>) =>
    body
      .replace(/\\t/g, '\t')
      .replace(/\\n/g, '\n')
      .replace(/\{\{\s*json\s+\.\s*\}\}/g, () => JSON.stringify(r))
      .replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_m, k: string) => {
        if (!(k in r)) throw usageError(`template: can't evaluate field ${k}`, 'fields: .ID .Image .Command .CreatedAt .RunningFor .Status .Names .State .Ports');
        return r[k]!;
      });
  const out = rows.map(fill);
  if (table) {
    const HEAD: Record<string, string> = { ID: 'CONTAINER ID', RunningFor: 'CREATED', CreatedAt: 'CREATED AT' };
    const head = body.replace(/\\t/g, '\t').replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_m, k: string) => HEAD[k] ?? k.toUpperCase());
    out.unshift(head);
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('ps')
    .description('List containers')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('-q, --quiet', 'only display container IDs')
    .option('--no-trunc', "don't truncate output")
    .option('--format <format>', "format output: 'table', 'json', or a Go template like '{{.ID}}'")
    .option('-n, --last <n>', 'show n last created containers (includes all states)', parseIntOption('--last'))
    .option('-l, --latest', 'show the latest created container (includes all states)')
    .option('-f, --filter <filter>', 'filter output (status=, name=, id=)', collect, [])
    .action(
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
        const rows = list.map((c) => fields(c, noTrunc, now));
        const format = opts.format ?? 'table';
        if (format === 'json') {
          for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
          return;
        }
        if (format !== 'table') {
          const lines = renderTemplate(format, rows);
          if (lines.length) process.stdout.write(lines.join('\n') + '\n');
          return;
        }
        printTable(
          ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
          rows.map((r) => [r.ID!, r.Image!, r.Command!, r.RunningFor!, r.Status!, r.Ports!, r.Names!]),
        );
      }),
    );
}
