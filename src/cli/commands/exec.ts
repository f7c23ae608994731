import type { Command } from 'commander';
import { action, checkTty, collect, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { execInContainer } from '../../containers/exec.js';
import { mergeEnv, parseEnv } from '../../containers/options.js';
import { usageError } from '../../util/errors.js';

export function register(program: Command): void {
  program
    .command('exec')
    .description('Execute a command in a running container')
    .argument('<container>', 'CONTAINER')
    .argument('<command...>', 'COMMAND [ARG...]')
    .passThroughOptions()
    .option('-i, --interactive', 'keep STDIN open', false)
    .option('-t, --tty', 'allocate a pseudo-TTY', false)
    .option('-d, --detach', 'run the command in the background', false)
    .option('-e, --env <KEY=VALUE>', 'set environment variables', collect, [])
    .option('--env-file <file>', 'read environment variables from a file', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'username or UID (format: <name|uid>[:<group|gid>])')
    .action(
      action(async (name: string, command: string[], o: { interactive: boolean; tty: boolean; detach: boolean; env: string[]; envFile: string[]; workdir?: string; user?: string }, cmd: Command) => {
        checkTty(o.interactive, o.tty, o.detach);
        const ctx = ctxOf(cmd);
        const c = findContainer(ctx, name);
        if (o.workdir !== undefined && !o.workdir.startsWith('/')) throw usageError(`the working directory ${JSON.stringify(o.workdir)} is invalid: it needs to be an absolute path`);
        let env = mergeEnv(c.config.env, parseEnv(o.envFile, o.env));
        if (o.tty) env = mergeEnv(['TERM=xterm'], env);
        const l = await execInContainer(ctx, c, {
          args: command,
          env,
          cwd: o.workdir ?? c.config.workingDir,
          user: o.user ?? c.config.user,
          tty: o.tty,
          openStdin: o.interactive,
          detach: o.detach,
        });
        return o.detach ? 0 : l.wait();
      }),
    );
}
