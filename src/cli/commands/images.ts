import type { Command } from 'commander';
import { action, ctxOf, goTime, humanAgo, humanSize } from '../common.js';
import { formatOption, writeFormatted, type FormatSpec } from '../format.js';
import { GoStruct, method } from '../../util/template/index.js';
import { listImages } from '../../ops/images.js';
import { familiarName } from '../../oci/reference.js';
import { shortId } from '../../oci/digest.js';

interface Opts {
  all?: boolean;
  quiet?: boolean;
  noTrunc?: boolean;
  trunc?: boolean;
  format?: string;
}

export const IMAGES_FORMAT: FormatSpec = {
  defaultTable: 'table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}',
  header: {
    ID: 'IMAGE ID',
    Repository: 'REPOSITORY',
    Tag: 'TAG',
    Digest: 'DIGEST',
    CreatedSince: 'CREATED',
    CreatedAt: 'CREATED AT',
    Size: 'SIZE',
    Containers: 'CONTAINERS',
    VirtualSize: 'VIRTUAL SIZE',
    SharedSize: 'SHARED SIZE',
    UniqueSize: 'UNIQUE SIZE',
  },
};

export function addImagesCommand(parent: Command, name = 'images'): Command {
  const cmd = parent
    .command(name)
    .description('List images')
    .argument('[reference]', 'REPOSITORY[:TAG] to list')
    .option('-a, --all', 'show all images (tsrun keeps no intermediate images: same as default)')
    .option('-q, --quiet', 'only show image IDs')
    .option('--no-trunc', "don't truncate output");
  formatOption(cmd, '{{.Repository}}:{{.Tag}} {{.ID}}…');
  cmd.action(
      action(async (ref: string | undefined, opts: Opts, c: Command) => {
        const rows = listImages(ctxOf(c), ref);
        const noTrunc = opts.trunc === false;
        const id = (d: string) => (noTrunc ? d : shortId(d));
        if (opts.quiet) {
          const seen = new Set<string>();
          const ids = rows.map((r) => id(r.id)).filter((i) => (seen.has(i) ? false : (seen.add(i), true)));
          if (ids.length) process.stdout.write(ids.join('\n') + '\n');
          return;
        }
        const human = (r: (typeof rows)[number]) => ({
          repo: r.repository === '<none>' ? '<none>' : familiarName(r.repository),
          size: humanSize(r.size),
        });
        writeFormatted(
          opts.format,
          rows.map((r) => {
            const h = human(r);
            const str = (v: string) => method([], () => v);
            // docker's *formatter.ImageContext
            return new GoStruct('*formatter.ImageContext', {
              ID: str(id(r.id)),
              Repository: str(h.repo),
              Tag: str(r.tag),
              Digest: str(r.repoDigests[0]?.split('@')[1] ?? '<none>'),
              CreatedSince: str(humanAgo(r.created)),
              CreatedAt: str(goTime(r.created)),
              Size: str(h.size),
              Containers: str('N/A'),
              VirtualSize: str(h.size),
              SharedSize: str('N/A'),
              UniqueSize: str('N/A'),
            });
          }),
          IMAGES_FORMAT,
        );
      }),
    );
  return cmd;
}

export function register(program: Command): void {
  addImagesCommand(program);
}
