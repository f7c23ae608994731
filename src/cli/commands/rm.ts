import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { removeContainer, sweepContainers } from '../../containers/rm.js';
import { isRunning, refresh } from '../../containers/status.js';
import { conflict, isTsrunError } from '../../util/errors.js';

export function register(program: Command): void {
  program
    .command('rm')
    .description('Remove one or more containers')
    .argument('<container...>', 'CONTAINER (name or ID)')
    .option('-f, --force', 'force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'remove anonymous volumes associated with the container')
    .action(
      action(async (refs: string[], opts: { force?: boolean; volumes?: boolean }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        // docker: -f ignores a container that does not exist (the others are still removed, exit 0)
        const found = refs.map((r) => {
          try {
            return findContainer(ctx, r);
          } catch (err) {
            if (opts.force && isTsrunError(err) && err.code === 'NOT_FOUND') return undefined;
            throw err;
          }
        });
        const list = found.filter((c) => c !== undefined);
        refs = refs.filter((_r, i) => found[i] !== undefined);
        if (!opts.force) {
          // refuse before removing any, so a bad list changes nothing
          for (const c of list) {
            const f = refresh(ctx, c);
            if (isRunning(f)) throw conflict(`cannot remove container ${f.config.name}: it is ${f.state.status}`, 'stop it first or use -f');
          }
        }
        for (let i = 0; i < list.length; i++) {
          await removeContainer(ctx, list[i]!, { force: opts.force, volumes: opts.volumes });
          process.stdout.write(`${refs[i]}\n`);
        }
        sweepContainers(ctx);
      }),
    );
}
