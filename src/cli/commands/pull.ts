import type { Command } from 'commander';
import { action, ctxCreating } from '../common.js';
import { TsrunError } from '../../util/errors.js';

interface PullFlags {
  platform?: string;
  quiet?: boolean;
  allTags?: boolean;
}

/** docker prints the familiar name in the Status line (busybox:latest, not docker.io/library/…). */
function familiar(name: string): string {
  return name.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}

export function register(program: Command): void {
  program
    .command('pull')
    .description('Download an image from a registry')
    .argument('<ref>', 'NAME[:TAG|@DIGEST]')
    .option('--platform <os/arch[/variant]>', 'platform to pull from a multi-platform image (default: this host)')
    .option('-q, --quiet', 'print only the image name')
    .option('-a, --all-tags', 'download every tag of the repository')
    .action(
      action(async (ref: string, flags: PullFlags, cmd: Command) => {
        // registry code is loaded only when a pull runs: it keeps other commands' start-up small
        const { pullImage, pullAllTags } = await import('../../ops/pull.js');
        const { parsePlatform } = await import('../../registry/manifest.js');
        const { pullProgress } = await import('../progress.js');
        const platform = flags.platform ? parsePlatform(flags.platform) : undefined;
        const ctx = ctxCreating(cmd);
        const progress = pullProgress(process.stdout, !!flags.quiet);
        const opts = { platform, onEvent: progress.onEvent };
        let results;
        try {
          results = flags.allTags ? await pullAllTags(ctx, ref, opts) : [await pullImage(ctx, ref, opts)];
        } finally {
          progress.done();
        }
        if (!results.length) throw new TsrunError('NOT_FOUND', `${ref}: the repository has no tags`);
        for (const r of results) {
          if (flags.quiet) {
            process.stdout.write(`${r.name}\n`);
            continue;
          }
          process.stdout.write(`Digest: ${r.digest}\n`);
          process.stdout.write(r.changed ? `Status: Downloaded newer image for ${familiar(r.name)}\n` : `Status: Image is up to date for ${familiar(r.name)}\n`);
          process.stdout.write(`${r.name}\n`);
        }
      }),
    );
}
