import type { Command } from 'commander';
import { action, ctxOf, humanAgo, humanSize, printTable } from '../common.js';
import { listImages } from '../../ops/images.js';
import { familiarName } from '../../oci/reference.js';
import { shortId } from '../../oci/digest.js';
import { usageError } from '../../util/errors.js';

interface Opts {
  all?: boolean;
  quiet?: boolean;
  noTrunc?: boolean;
  trunc?: boolean;
  format?: string;
}

export function addImagesCommand(parent: Command, name = 'images'): Command {
  const cmd = parent
    .command(name)
    .description('List images')
    .argument('[reference]', 'REPOSITORY[:TAG] to list')
    .option('-a, --all', 'show all images (tsrun keeps no intermediate images: same as default)')
    .option('-q, --quiet', 'only show image IDs')
    .option('--no-trunc', "don't truncate output")
    .option('--format <format>', "'table' (default) or 'json'")
    .action(
      action(async (ref: string | undefined, opts: Opts, c: Command) => {
        if (opts.format && opts.format !== 'json' && opts.format !== 'table') throw usageError(`unsupported --format ${JSON.stringify(opts.format)}`, "use 'table' or 'json'");
        const rows = listImages(ctxOf(c), ref);
        const noTrunc = opts.trunc === false;
        const id = (d: string) => (noTrunc ? d : shortId(d));
        if (opts.quiet) {
          const seen = new Set<string>();
          const ids = rows.map((r) => id(r.id)).filter((i) => (seen.has(i) ? false : (seen.add(i), true)));
          if (ids.length) process.stdout.write(ids.join('\n') + '\n');
          return;
        }
        if (opts.format === 'json') {
          for (const r of rows) {
            const repo = r.repository === '<none>' ? '<none>' : familiarName(r.repository);
            process.stdout.write(
              JSON.stringify({
                Containers: 'N/A',
                CreatedAt: r.created ?? '',
                CreatedSince: humanAgo(r.created),
                Digest: r.repoDigests[0]?.split('@')[1] ?? '<none>',
                ID: id(r.id),
                Repository: repo,
                SharedSize: 'N/A',
                Size: humanSize(r.size),
                Tag: r.tag,
                UniqueSize: 'N/A',
                VirtualSize: humanSize(r.size),
              }) + '\n',
            );
          }
          return;
        }
        printTable(
          ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
          rows.map((r) => [r.repository === '<none>' ? '<none>' : familiarName(r.repository), r.tag, id(r.id), humanAgo(r.created), humanSize(r.size)]),
        );
      }),
    );
  return cmd;
}

export function register(program: Command): void {
  addImagesCommand(program);
}
