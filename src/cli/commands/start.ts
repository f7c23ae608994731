import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { startContainer } from '../../containers/start.js';
import { isRunning, refresh } from '../../containers/status.js';
import { isTsrunError, type ErrorCode } from '../../util/errors.js';

const hasErrorCode = (err: unknown, code: ErrorCode) => isTsrunError(err) && err.code === code;

export function register(program: Command): void {
  program
    .command('start')
    .description('Start one or more stopped containers')
    .argument('[containers...]', 'CONTAINER...')
    .option('-a, --attach', "attach STDOUT/STDERR and forward signals; exit with the container's status", false)
    .option('-i, --interactive', "attach the container's STDIN", false)
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container (default ctrl-p,ctrl-q)')
    .option('--all-restart', 'start every container whose restart policy brings it back at boot (always; unless-stopped unless stopped by hand): what tsrun-restart.service runs', false)
    .action(
      action(async (names: string[], opts: { attach: boolean; interactive: boolean; allRestart: boolean; detachKeys?: string }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const { TsrunError } = await import('../../util/errors.js');
        if (opts.allRestart) {
          if (names.length || opts.attach || opts.interactive) throw new TsrunError('USAGE', '--all-restart takes no container names and cannot attach');
          const { startRestartPolicyContainers } = await import('../../ops/restart-boot.js');
          const r = await startRestartPolicyContainers(ctx);
          for (const c of r.started) process.stdout.write(`${c.config.name}\n`);
          for (const f of r.failed) process.stderr.write(`tsrun: cannot start ${f.container.config.name}: ${f.error.message}\n`);
          return r.failed.length ? 1 : 0;
        }
        if (!names.length) {
          // [containers...] is optional for --all-restart; without it docker's RequiresMinArgs(1)
          const { commandPath, dockerUsage } = await import('../arg-count.js');
          const path = commandPath(cmd);
          throw new TsrunError('USAGE', `'${path}' requires at least 1 argument\n\nUsage:  ${dockerUsage(cmd, path).replace('[CONTAINERS...]', 'CONTAINER [CONTAINER...]')}\n\nSee '${path} --help' for more information`, { exitCode: 1 });
        }
        const attach = opts.attach || opts.interactive;
        if (attach && names.length > 1) throw new (await import('../../util/errors.js')).TsrunError('USAGE', 'you cannot start and attach multiple containers at once');
        let code = 0;
        // an attached start's detach keys (bad ones refused before anything starts)
        const keys = attach ? (await import('../detach-keys.js')).detachKeysFor(opts.detachKeys) : undefined;
        // docker: each container is tried; a failure is printed and the others still start, then
        // "failed to start containers: a, b" and exit 1 (an attached start has one container: its error as it is)
        const failed: string[] = [];
        for (const name of names) {
          if (!attach) {
            try {
              await startOne(name);
            } catch (err) {
              if (!isTsrunError(err)) throw err;
              process.stderr.write(`tsrun: ${err.message}${err.hint ? ` (${err.hint})` : ''}\n`);
              failed.push(name);
            }
            continue;
          }
          const r = await startOne(name);
          if (r !== undefined) return r;
        }
        if (failed.length) throw new TsrunError('CONFLICT', `failed to start containers: ${failed.join(', ')}`, { exitCode: 1 });
        return code;

        /** One container; a number ends an attached start with that status. */
        async function startOne(name: string): Promise<number | undefined> {
          const c = refresh(ctx, findContainer(ctx, name));
          // docker: `start -a` of a running container attaches to it
          if (attach && c.state.status === 'running') {
            const { attachContainer } = await import('../../ops/attach.js');
            const r = await attachContainer(ctx, name, { noStdin: !opts.interactive, sigProxy: true, keys: keys! });
            return r === 'detached' ? 0 : r;
          }
          // docker: starting a running container is not an error (without -a: nothing to attach to here)
          if (!attach && (c.state.status === 'running' || c.state.status === 'paused')) {
            process.stdout.write(`${name}\n`);
            return undefined;
          }
          let s;
          try {
            // the keys reach the monitor only for a terminal fed from ours (-i, a container made with -it)
            const withKeys = opts.interactive && c.config.tty && c.config.openStdin;
            // docker: -a alone leaves the container's stdin to others; without StdinOnce (run -di) the end of ours is not its end
            const stdinAttach = !attach || !c.config.openStdin ? undefined : !opts.interactive ? 'none' : c.config.stdinOnce === false ? 'keep' : undefined;
            s = await startContainer(ctx, c, { detach: !attach, detachKeys: withKeys ? keys : undefined, stdinAttach });
          } catch (err) {
            // another start won the container's lock first: running now, so the same no-op as above
            if (!attach && hasErrorCode(err, 'CONFLICT') && isRunning(refresh(ctx, findContainer(ctx, c.config.id)))) {
              process.stdout.write(`${name}\n`);
              return undefined;
            }
            throw err;
          }
          if (!attach) {
            process.stdout.write(`${name}\n`);
            return undefined;
          }
          const end = await s.launched.waitOrDetach();
          if (end === 'detached') return 0; // docker: the escape sequence ends `start -ai` quietly, the container runs on
          code = end;
          const { readContainer } = await import('../../containers/record.js');
          const fresh = readContainer(ctx, s.container.config.id);
          if (fresh) refresh(ctx, fresh);
          // --rm: an attached start removes the container like run does (a detached one: its monitor does)
          if (fresh?.config.host.autoRemove) await (await import('../../containers/rm.js')).removeContainer(ctx, fresh, { force: true });
          return code;
        }
      }),
    );
}
