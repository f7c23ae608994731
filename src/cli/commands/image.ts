/** `tsrun image …`: the image commands grouped, as `docker image` does. */
import type { Command } from 'commander';
import { action, ctxOf, humanSize } from '../common.js';
import { printInspected } from '../format.js';
import { addImagesCommand } from './images.js';
import { addRmiCommand } from './rmi.js';
import { addHistoryCommand } from './history.js';
import { addImportCommand } from './import.js';
import { addLoadCommand } from './load.js';
import { addSaveCommand } from './save.js';
import { register as registerTag } from './tag.js';
import { inspectImage } from '../../ops/image-inspect.js';
import { pruneImages } from '../../ops/prune.js';
import { confirm } from '../confirm.js';

export function addImageInspect(parent: Command, name = 'inspect'): Command {
  return parent
    .command(name)
    .description('Display detailed information on one or more images')
    .argument('<image...>', 'image names or IDs')
    .option('-f, --format <template>', "format the output using a Go template ({{.Id}}, {{json .Config}}) or 'json'")
    .action(
      action(async (images: string[], opts: { format?: string }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const failures = printInspected(images, (ref) => inspectImage(ctx, ref), opts.format);
        if (failures.length) throw failures.at(-1);
      }),
    );
}

export function register(program: Command): void {
  const image = program.command('image').description('Manage images');
  const ls = addImagesCommand(image, 'ls');
  ls.alias('list');
  addRmiCommand(image, 'rm').alias('remove');
  addHistoryCommand(image, 'history');
  addImportCommand(image, 'import');
  addLoadCommand(image, 'load');
  addSaveCommand(image, 'save');
  registerTag(image);
  addImageInspect(image);
  image
    .command('prune')
    .description('Remove unused images')
    .option('-a, --all', 'remove all images not used by a container, not just dangling ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(
      action(async (opts: { all?: boolean; force?: boolean }, cmd: Command) => {
        if (!opts.force) {
          const what = opts.all ? 'all images without at least one container associated to them' : 'all dangling images';
          if (!(await confirm(`WARNING! This will remove ${what}.\nAre you sure you want to continue? [y/N] `))) return;
        }
        const { deleted, reclaimed } = await pruneImages(ctxOf(cmd), !!opts.all);
        let text = '';
        if (deleted.length) text += `Deleted Images:\n${deleted.map((d) => `deleted: ${d}`).join('\n')}\n\n`;
        text += `Total reclaimed space: ${humanSize(reclaimed)}\n`;
        process.stdout.write(text);
      }),
    );
}
