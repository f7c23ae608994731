import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';

export function register(program: Command): void {
  program
    .command('push')
    .description('Upload an image to a registry')
    .argument('<ref>', 'NAME[:TAG]')
    .option('-q, --quiet', 'print only the pushed name')
    .action(
      action(async (ref: string, flags: { quiet?: boolean }, cmd: Command) => {
        const { pushImage } = await import('../../ops/push.js');
        const ctx = ctxOf(cmd);
        const out = process.stdout;
        const final = new Set(['Pushed', 'Layer already exists']);
        const { parseReference, repoName } = await import('../../oci/reference.js');
        if (!flags.quiet) out.write(`The push refers to repository [${repoName(parseReference(ref))}]\n`);
        const r = await pushImage(ctx, ref, {
          onEvent: (e) => {
            if (flags.quiet) return;
            // a line per layer when it settles (docker redraws in place on a TTY; settled lines are what logs keep)
            if (final.has(e.status) || e.status.startsWith('Mounted from')) out.write(`${e.id}: ${e.status}\n`);
          },
        });
        if (flags.quiet) out.write(`${r.repository}:${r.tag}\n`);
        else out.write(`${r.tag}: digest: ${r.digest} size: ${r.size}\n`);
      }),
    );
}
