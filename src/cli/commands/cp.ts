import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { copyFromContainer, copyToContainer } from '../../ops/cp/cp.js';
import { usageError } from '../../util/errors.js';

/** docker's splitCpArg: `CONTAINER:PATH`, unless the argument starts with `/` or the part before `:` with `.` */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/')) return { path: arg };
  const i = arg.indexOf(':');
  if (i < 0 || arg.startsWith('.')) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) || '/' };
}

export function register(program: Command): void {
  program
    .command('cp')
    .description('Copy files/folders between a container and the local filesystem')
    .usage('[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       tsrun cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH')
    .argument('<src>', 'CONTAINER:SRC_PATH, SRC_PATH or - (a tar stream on stdin)')
    .argument('<dest>', 'CONTAINER:DEST_PATH, DEST_PATH or - (a tar stream on stdout)')
    .option('-a, --archive', 'archive mode (keep the source uid/gid)')
    .option('-L, --follow-link', 'always follow a symbolic link in SRC_PATH')
    .option('-q, --quiet', 'suppress progress output (tsrun prints none)')
    .action(
      action(async (srcArg: string, destArg: string, opts: { archive?: boolean; followLink?: boolean }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const src = splitCpArg(srcArg);
        const dest = splitCpArg(destArg);
        if (src.container !== undefined && dest.container !== undefined) throw usageError('copying between containers is not supported');
        if (src.container === undefined && dest.container === undefined) throw usageError('must specify at least one container source');
        if (!src.path || !dest.path) throw usageError('filename cannot be empty');
        const o = { archive: !!opts.archive, followLink: !!opts.followLink };
        if (src.container !== undefined) {
          const c = findContainer(ctx, src.container);
          if (dest.path === '-' && process.stdout.isTTY) throw usageError('refusing to write a tar archive to a terminal', 'redirect the output');
          try {
            copyFromContainer(ctx, c, src.path, dest.path, o);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'EPIPE') return 141; // the reader went away: nothing is left mounted
            throw err;
          }
          return;
        }
        copyToContainer(ctx, findContainer(ctx, dest.container!), src.path, dest.path, o);
      }),
    );
}
