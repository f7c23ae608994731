import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { tagImage } from '../../ops/tag.js';

export function register(program: Command): void {
  program
    .command('tag')
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>', 'SOURCE_IMAGE[:TAG] or image ID')
    .argument('<target>', 'TARGET_IMAGE[:TAG]')
    .action(
      action(async (source: string, target: string, _opts: unknown, cmd: Command) => {
        tagImage(ctxOf(cmd), source, target);
      }),
    );
}
