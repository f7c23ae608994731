import type { Command } from 'commander';
import { action, ctxOf, humanAgo, humanSize, printTable } from '../common.js';
import { imageHistory } from '../../ops/history.js';
import { shortId } from '../../oci/digest.js';
import { usageError } from '../../util/errors.js';

interface Opts {
  quiet?: boolean;
  trunc?: boolean;
  human: string | boolean;
  format?: string;
}

function parseBool(v: string | boolean): boolean {
  if (typeof v === 'boolean') return v;
  const s = v.replace(/^=/, '').toLowerCase();
  if (['true', '1', 't', 'yes'].includes(s)) return true;
  if (['false', '0', 'f', 'no'].includes(s)) return false;
  throw usageError(`invalid value ${JSON.stringify(v)} for -H/--human: not a boolean`);
}

/** docker truncates CREATED BY to 45 characters, ending in … */
function trunc(s: string, n: number): string {
  return [...s].length > n ? [...s].slice(0, n - 1).join('') + '…' : s;
}

export function addHistoryCommand(parent: Command, name = 'history'): Command {
  return parent
    .command(name)
    .description('Show the history of an image')
    .argument('<image>', 'image name or ID')
    .option('-q, --quiet', 'only show image IDs')
    .option('--no-trunc', "don't truncate output")
    .option('-H, --human <bool>', 'print sizes and dates in human readable format', 'true')
    .option('--format <format>', "'table' (default) or 'json'")
    .action(
      action(async (image: string, opts: Opts, cmd: Command) => {
        if (opts.format && opts.format !== 'json' && opts.format !== 'table') throw usageError(`unsupported --format ${JSON.stringify(opts.format)}`, "use 'table' or 'json'");
        const human = parseBool(opts.human);
        const rows = imageHistory(ctxOf(cmd), image);
        const noTrunc = opts.trunc === false;
        const id = (d: string) => (d === '<missing>' || noTrunc ? d : shortId(d));
        if (opts.quiet) {
          process.stdout.write(rows.map((r) => id(r.id)).join('\n') + '\n');
          return;
        }
        const created = (r: (typeof rows)[number]) => (human ? humanAgo(r.created) : (r.created ?? ''));
        const size = (r: (typeof rows)[number]) => (human ? humanSize(r.size) : String(r.size));
        if (opts.format === 'json') {
          for (const r of rows) {
            process.stdout.write(
              JSON.stringify({ Comment: r.comment, CreatedAt: r.created ?? '', CreatedBy: r.createdBy, CreatedSince: humanAgo(r.created), ID: id(r.id), Size: size(r) }) + '\n',
            );
          }
          return;
        }
        printTable(
          ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
          rows.map((r) => [id(r.id), created(r), noTrunc ? r.createdBy : trunc(r.createdBy, 45), size(r), r.comment]),
        );
      }),
    );
}

export function register(program: Command): void {
  addHistoryCommand(program);
}
