/**
 * `tsrun healthcheck run CONTAINER` (podman's): run the healthcheck once now.
 * Exit 0 when it passed, 1 when it failed (printing "unhealthy", as podman),
 * 125 when it could not run (no healthcheck, not running).
 * `--scheduled` (hidden) is the monitor's own run: it exits 0 once the
 * container is no longer "starting", which ends the start interval.
 */
import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { runHealthcheck } from '../../ops/healthcheck.js';
import { Option } from 'commander';

export function register(program: Command): void {
  const hc = program.command('healthcheck').description('Run the healthcheck of a container');
  hc.command('run')
    .description('Run the healthcheck of a container now')
    .argument('<container>', 'CONTAINER')
    .addOption(new Option('--scheduled', 'run by the container monitor').hideHelp())
    .action(
      action(async (name: string, o: { scheduled?: boolean }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        const r = await runHealthcheck(ctx, findContainer(ctx, name));
        if (o.scheduled) return r.record.Status === 'starting' ? 1 : 0;
        if (r.entry.ExitCode === 0) return 0;
        process.stdout.write('unhealthy\n');
        return 1;
      }),
    );
}
