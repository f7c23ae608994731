import type { Command } from 'commander';
import { action, collect, ctxOf, parseIntOption } from '../common.js';
import { commitContainer, type CommitOptions } from '../../ops/commit.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { usageError } from '../../util/errors.js';

/** --pause, --pause=true, --pause=false, -p (docker's boolean flag syntax). */
function parseBool(name: string) {
  return (v: string): boolean => {
    if (/^(true|1|yes)$/i.test(v)) return true;
    if (/^(false|0|no)$/i.test(v)) return false;
    throw usageError(`invalid value ${JSON.stringify(v)} for ${name}: use true or false`);
  };
}

interface Opts {
  message?: string;
  author?: string;
  change?: string[];
  pause: boolean;
  format: string;
  iidfile?: string;
  quiet?: boolean;
  squash?: boolean;
  timestamp?: number;
}

export function register(program: Command): void {
  program
    .command('commit')
    .description("Create a new image from a container's changes")
    .argument('<container>', 'container name or ID')
    .argument('[repository]', 'REPOSITORY[:TAG] for the new image (untagged when absent)')
    .option('-m, --message <message>', 'commit message (history comment)')
    .option('-a, --author <author>', 'author (e.g. "Jane Doe <jane@example.com>")')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction to the image config (repeatable)', collect, [])
    .option('-p, --pause [bool]', 'freeze the container while committing (default true; --pause=false)', parseBool('--pause'), true)
    .option('-f, --format <format>', 'manifest and config format: oci or docker', 'oci')
    .option('--iidfile <file>', 'write the image ID to the file')
    .option('-q, --quiet', 'print only the image ID')
    .option('--squash', 'make one layer of the whole filesystem (history kept)')
    .option('--timestamp <seconds>', 'created time and mtime clamp, in seconds since the epoch (env SOURCE_DATE_EPOCH)', parseIntOption('--timestamp'))
    .action(
      action(async (container: string, repository: string | undefined, o: Opts, cmd: Command) => {
        const opts: CommitOptions = {
          container,
          ref: repository,
          message: o.message,
          author: o.author,
          changes: o.change ?? [],
          pause: o.pause,
          format: o.format as CommitOptions['format'],
          squash: !!o.squash,
          timestamp: o.timestamp,
        };
        const r = await commitContainer(ctxOf(cmd), opts);
        if (o.iidfile) writeFileAtomic(o.iidfile, r.id);
        process.stdout.write(r.id + '\n');
      }),
    );
}
