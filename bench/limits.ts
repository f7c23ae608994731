/**
 * Resource limits at start-up (issue #13): `tsrun run --rm` with
 * `-m 256m --cpus 1 --pids-limit 100` beside the same run without limits
 * (target: at most 3 ms more), alternated so load that comes and goes hits
 * both alike, and beside `podman run --rm` with the same flags (private
 * CONTAINERS_CONF, runc, cgroupfs). All with --network none.
 */
import { tempRoot, importBusybox, busyboxTar, TSRUN } from '../test/helpers/cli.js';
import { podman, have } from '../test/helpers/peers.js';
import { median, once } from './timing.js';

const RUNS = 20;
const LIMITS = ['-m', '256m', '--cpus', '1', '--pids-limit', '100'];

/** Medians of commands run in alternation, after one warm-up each. */
function alternate(cmds: [string, string[], NodeJS.ProcessEnv?][]): number[] {
  for (const [c, a, e] of cmds) once(c, a, e);
  const times = cmds.map(() => [] as number[]);
  for (let i = 0; i < RUNS; i++) cmds.forEach(([c, a, e], k) => times[k]!.push(once(c, a, e)));
  return times.map(median);
}

export async function benchLimits(): Promise<void> {
  const t = tempRoot('tsrun-bench-limits-');
  const pm = have('podman') ? podman(t.scratch) : undefined;
  try {
    importBusybox(t.root);
    const tsrunArgs = (extra: string[]) => [TSRUN, '--root', t.root, 'run', '--rm', '--network', 'none', ...extra, 'busybox', 'true'];
    const [plain, limited] = alternate([
      [process.execPath, tsrunArgs([])],
      [process.execPath, tsrunArgs(LIMITS)],
    ]);
    console.log(`  ${'tsrun run --rm'.padEnd(48)} ${plain!.toFixed(1)} ms`);
    console.log(`  ${`tsrun run --rm ${LIMITS.join(' ')}`.padEnd(48)} ${limited!.toFixed(1)} ms  (+${(limited! - plain!).toFixed(1)} ms, target <= 3 ms)`);
    if (!pm) {
      console.log('  podman: not installed (scripts/setup.sh installs it)');
      return;
    }
    pm.run(['import', busyboxTar(), 'busybox:latest']);
    const base = ['--root', `${pm.dir}/graph`, '--runroot', `${pm.dir}/run`, '--cgroup-manager', 'cgroupfs'];
    const [pmPlain, pmLimited] = alternate([
      ['podman', [...base, 'run', '--rm', '--network', 'none', 'busybox:latest', 'true'], pm.env],
      ['podman', [...base, 'run', '--rm', '--network', 'none', ...LIMITS, 'busybox:latest', 'true'], pm.env],
    ]);
    console.log(`  ${'podman run --rm'.padEnd(48)} ${pmPlain!.toFixed(1)} ms`);
    console.log(`  ${`podman run --rm ${LIMITS.join(' ')}`.padEnd(48)} ${pmLimited!.toFixed(1)} ms  (+${(pmLimited! - pmPlain!).toFixed(1)} ms)`);
    console.log(`  tsrun/podman with limits: ${(limited! / pmLimited!).toFixed(2)}x`);
  } finally {
    pm?.cleanup();
    t.cleanup();
  }
}
