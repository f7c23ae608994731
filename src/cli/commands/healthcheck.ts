/**
 * `tsrun healthcheck run CONTAINER` (podman's): run the healthcheck once now.
 * Exit 0 when it passed, 1 when it failed (printing "unhealthy", as podman),
 * 125 when it could not run (no such container, no healthcheck, not running),
 * as podman's: 1 must keep meaning unhealthy.
 * `--scheduled` (hidden) is the monitor's own run: it exits 0 once the
 * container is no longer "starting", which ends the start interval.
 */
import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { runHealthcheck } from '../../ops/healthcheck.js';
import { Option } from 'commander';
import { isTsrunError, TsrunError } from '../../util/errors.js';

export function register(program: Command): void {
  const hc = program.command('healthcheck').description('Run the healthcheck of a container');
  hc.command('run')
    .description('Run the healthcheck of a container now')
    .argument('<container>', 'CONTAINER')
    .addOption(new Option('--scheduled', 'run by the container monitor').hideHelp())
    .action(
      action(async (name: string, o: { scheduled?: boolean }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        let c;
        try {
          c = findContainer(ctx, name);
        } catch (err) {
          // podman's codes: 1 means unhealthy, so every error is 125
          if (isTsrunError(err)) throw new TsrunError(err.code, err.message, { hint: err.hint, exitCode: 125 });
          throw err;
        }
        const r = await runHealthcheck(ctx, c);
        if (o.scheduled) return r.record.Status === 'starting' ? 1 : 0;
        if (r.entry.ExitCode === 0) return 0;
        process.stdout.write('unhealthy\n');
        return 1;
      }),
    );
}
