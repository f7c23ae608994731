import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { checkFormat, saveImages } from '../../ops/save.js';
import { usageError } from '../../util/errors.js';

export function addSaveCommand(parent: Command, name = 'save'): Command {
  return parent
    .command(name)
    .description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .argument('<image...>', 'images (names or IDs)')
    .option('-o, --output <file>', 'write to a file, instead of STDOUT')
    .option('--format <format>', 'docker-archive or oci-archive', 'docker-archive')
    .action(
      action(async (images: string[], opts: { output?: string; format: string }, cmd: Command) => {
        const format = checkFormat(opts.format);
        if (!opts.output && process.stdout.isTTY) {
          throw usageError('cowardly refusing to save to a terminal', 'use the -o flag or redirect');
        }
        await saveImages(ctxOf(cmd), images, format, { file: opts.output });
      }),
    );
}

export function register(program: Command): void {
  addSaveCommand(program);
}
