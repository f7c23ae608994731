import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { removeImages } from '../../ops/rmi.js';
import { familiarName } from '../../oci/reference.js';

export function addRmiCommand(parent: Command, name = 'rmi'): Command {
  return parent
    .command(name)
    .description('Remove one or more images')
    .argument('<image...>', 'images (names or IDs)')
    .option('-f, --force', 'force removal of the image (several tags, or used by a stopped container)')
    .action(
      action(async (images: string[], opts: { force?: boolean }, cmd: Command) => {
        const { events } = await removeImages(ctxOf(cmd), images, !!opts.force);
        const lines = events.map((e) => ('untagged' in e ? `Untagged: ${familiarName(e.untagged)}` : `Deleted: ${e.deleted}`));
        if (lines.length) process.stdout.write(lines.join('\n') + '\n');
      }),
    );
}

export function register(program: Command): void {
  addRmiCommand(program);
}
