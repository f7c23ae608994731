import type { Command } from 'commander';
import { action, ctxOf, goTime, humanAgo, humanSize } from '../common.js';
import { formatOption, writeFormatted, type FormatSpec } from '../format.js';
import { GoStruct, method } from '../../util/template/index.js';
import { imageHistory } from '../../ops/history.js';
import { shortId } from '../../oci/digest.js';

interface Opts {
  quiet?: boolean;
  trunc?: boolean;
  human?: boolean;
  format?: string;
}


/** docker truncates CREATED BY to 45 characters, ending in … */
function trunc(s: string, n: number): string {
  return [...s].length > n ? [...s].slice(0, n - 1).join('') + '…' : s;
}

/** docker's -H=false CREATED: Go's time.RFC3339, whole seconds. */
function rfc3339(iso: string | undefined): string {
  if (!iso || Number.isNaN(Date.parse(iso))) return '';
  return new Date(iso).toISOString().replace(/\.\d+Z$/, 'Z');
}

export const HISTORY_FORMAT: FormatSpec = {
  defaultTable: 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
  header: { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' },
};

export function addHistoryCommand(parent: Command, name = 'history'): Command {
  const cmd = parent
    .command(name)
    .description('Show the history of an image')
    .argument('<image>', 'image name or ID')
    .option('-q, --quiet', 'only show image IDs')
    .option('--no-trunc', "don't truncate output")
    .option('-H, --human', 'print sizes and dates in human readable format (default; -H=false for raw values)', true)
    .option('--no-human', 'print raw sizes and dates (same as -H=false)');
  return formatOption(cmd, '{{.ID}} {{.CreatedBy}}…').action(
      action(async (image: string, opts: Opts, cmd: Command) => {
        const human = opts.human !== false;
        const rows = imageHistory(ctxOf(cmd), image);
        const noTrunc = opts.trunc === false;
        const id = (d: string) => (d === '<missing>' || noTrunc ? d : shortId(d));
        if (opts.quiet) {
          process.stdout.write(rows.map((r) => id(r.id)).join('\n') + '\n');
          return;
        }
        const str = (v: string) => method([], () => v);
        writeFormatted(
          opts.format,
          rows.map(
            (r) =>
              // docker's *formatter.historyContext
              new GoStruct('*formatter.historyContext', {
                ID: str(id(r.id)),
                CreatedSince: str(human ? humanAgo(r.created) : rfc3339(r.created)),
                CreatedAt: str(goTime(r.created)),
                CreatedBy: str(noTrunc ? r.createdBy.replace(/\t/g, ' ') : trunc(r.createdBy.replace(/\t/g, ' '), 45)),
                Size: str(human ? humanSize(r.size) : String(r.size)),
                Comment: str(r.comment),
              }),
          ),
          HISTORY_FORMAT,
        );
      }),
    );
}

export function register(program: Command): void {
  addHistoryCommand(program);
}
