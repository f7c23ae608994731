import type { Command } from 'commander';
import { action, ctxOf, goTime, humanAgo, humanSize } from '../common.js';
import { formatOption, writeFormatted, type FormatSpec } from '../format.js';
import { GoStruct, method } from '../../util/template/index.js';
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
    .option('-H, --human <bool>', 'print sizes and dates in human readable format', 'true');
  return formatOption(cmd, '{{.ID}} {{.CreatedBy}}…').action(
      action(async (image: string, opts: Opts, cmd: Command) => {
        const human = parseBool(opts.human);
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
                CreatedSince: str(human ? humanAgo(r.created) : (r.created ?? '')),
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
