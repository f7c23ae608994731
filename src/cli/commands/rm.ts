import type { Command } from 'commander';
import { action, ctxOf, eachContainer } from '../common.js';
import { removeContainer, sweepContainers } from '../../containers/rm.js';
import { isRunning, refresh } from '../../containers/status.js';
import { isTsrunError } from '../../util/errors.js';
import { removeRefused } from '../../containers/transition.js';

export function register(program: Command): void {
  program
    .command('rm')
    .description('Remove one or more containers')
    .argument('<container...>', 'CONTAINER (name or ID)')
    .option('-f, --force', 'force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'remove anonymous volumes associated with the container')
    .action(
      action(async (refs: string[], opts: { force?: boolean; volumes?: boolean }, cmd: Command) => {
        // docker: each container in turn, a failure printed and the rest still removed, exit 1 if any
        // failed; -f ignores a container that does not exist (exit 0 for it)
        const code = await eachContainer(cmd, refs, async (ctx, c) => {
          if (!opts.force) {
            const f = refresh(ctx, c);
            if (isRunning(f)) throw removeRefused(f);
          }
          await removeContainer(ctx, c, { force: opts.force, volumes: opts.volumes });
        }, opts.force ? (err) => isTsrunError(err) && err.code === 'NOT_FOUND' : undefined);
        sweepContainers(ctxOf(cmd));
        return code;
      }),
    );
}
