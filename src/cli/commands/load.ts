import fs from 'node:fs';
import type { Command } from 'commander';
import { action, ctxCreating } from '../common.js';
import { loadImages } from '../../ops/load.js';
import { familiarName } from '../../oci/reference.js';
import { syscallError, usageError } from '../../util/errors.js';

export function addLoadCommand(parent: Command, name = 'load'): Command {
  return parent
    .command(name)
    .description('Load images from a tar archive (docker-archive or oci-archive) or STDIN')
    .option('-i, --input <file>', 'read from a tar archive file, instead of STDIN')
    .option('-q, --quiet', 'suppress the load output')
    .action(
      action(async (opts: { input?: string; quiet?: boolean }, cmd: Command) => {
        const ctx = ctxCreating(cmd);
        let input;
        if (opts.input && opts.input !== '-') {
          try {
            input = fs.createReadStream(opts.input, { highWaterMark: 1 << 20 });
            await new Promise<void>((resolve, reject) => {
              input!.once('open', () => resolve());
              input!.once('error', reject);
            });
          } catch (err) {
            throw syscallError(`cannot read ${opts.input}`, err);
          }
        } else {
          if (process.stdin.isTTY) throw usageError('requested load from stdin, but stdin is empty', 'use -i FILE or pipe an archive in');
          input = process.stdin;
        }
        const loaded = await loadImages(ctx, input);
        if (opts.quiet) return;
        const lines: string[] = [];
        for (const img of loaded) {
          if (img.tags.length) for (const t of img.tags) lines.push(`Loaded image: ${familiarName(t)}`);
          else lines.push(`Loaded image ID: ${img.id}`);
        }
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );
}

export function register(program: Command): void {
  addLoadCommand(program);
}
