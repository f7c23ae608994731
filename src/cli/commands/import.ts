import type { Command } from 'commander';
import { action, collect, ctxCreating } from '../common.js';
import { importImage } from '../../ops/import.js';

export function addImportCommand(parent: Command, name = 'import'): Command {
  return parent
    .command(name)
    .description('Import the contents from a tarball to create a filesystem image')
    .argument('<file>', 'tarball (plain, gzip or zstd), or - for stdin')
    .argument('[reference]', 'REPOSITORY[:TAG]')
    .option('-c, --change <line>', 'apply a Dockerfile instruction to the created image', collect, [])
    .option('-m, --message <msg>', 'set the commit message for the imported image')
    .option('--platform <os/arch[/variant]>', "the platform the image's config names (default: this machine's)")
    .action(
      action(async (file: string, ref: string | undefined, opts: { change: string[]; message?: string; platform?: string }, cmd: Command) => {
        const platform = opts.platform === undefined ? undefined : (await import('../../oci/platform.js')).parsePlatform(opts.platform);
        const id = await importImage(ctxCreating(cmd), { source: file, ref, changes: opts.change, message: opts.message, platform, stdin: process.stdin });
        process.stdout.write(`${id}\n`);
      }),
    );
}

export function register(program: Command): void {
  addImportCommand(program);
}
