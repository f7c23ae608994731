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
    .option('--detach-keys <keys>', 'override the key sequence for detaching (default ctrl-p,ctrl-q; -it only)')
    .action(
      action(async (name: string, command: string[], o: { interactive: boolean; tty: boolean; detach: boolean; env: string[]; envFile: string[]; workdir?: string; user?: string; detachKeys?: string }, cmd: Command) => {
        checkTty(o.interactive, o.tty, o.detach);
        const ctx = ctxOf(cmd);
        const c = findContainer(ctx, name);
        // docker's daemon checks the keys at exec create (whether or not they will be used);
        // config.json is read only for a terminal that can detach
        const withKeys = o.tty && o.interactive && !o.detach;
        const keys = o.detachKeys !== undefined || withKeys ? (await import('../detach-keys.js')).detachKeysFor(o.detachKeys, 'escape') : undefined;
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
        }, withKeys ? keys : undefined);
        if (o.detach) return 0;
        const end = await l.waitOrDetach();
        if (end !== 'detached') return end;
        // docker's client: the escape sequence ends `exec -it` as it ends attach; the process runs on
        process.stderr.write('read escape sequence\n');
        return 1;
      }),
    );
}
