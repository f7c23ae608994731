/**
 * `tsrun run --rm IMAGE true` latency (median of 20, run alternately with
 * `node -e 0` so the ratio survives a busy machine) next to the same
 * container started by crun (or runc where crun refuses this host's hybrid
 * cgroup layout) on an equivalent bundle, `podman run --rm --network none`,
 * and `node -e 0` (the floor any Node CLI pays), plus tsrun's peak RSS; all
 * with `--network none`. Then both on their default bridge network (the same
 * netavark underneath), and how much of netavark's time tsrun hides behind
 * the container's own start (TSRUN_TRACE_STARTUP's "network set up" line).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, importBusybox, busyboxTar, TSRUN } from '../test/helpers/cli.js';
import { podman, have } from '../test/helpers/peers.js';
import { median, once } from './timing.js';

const RUNS = 20;

/** Median wall time in ms of RUNS runs (after one warm-up); undefined when the command fails. */
function time(cmd: string, args: string[], env?: NodeJS.ProcessEnv): number | undefined {
  try {
    once(cmd, args, env);
    return median(Array.from({ length: RUNS }, () => once(cmd, args, env)));
  } catch (err) {
    console.log(`  (${(err as Error).message})`);
    return undefined;
  }
}

/**
 * Medians of commands run in alternation (a, b, a, b …): on a machine busy with
 * other work, load that comes and goes then hits both alike, so their ratio holds.
 */
function timeSideBySide(cmds: [string, string[]][]): (number | undefined)[] {
  try {
    for (const [c, a] of cmds) once(c, a);
    const times = cmds.map(() => [] as number[]);
    for (let i = 0; i < RUNS; i++) cmds.forEach(([c, a], k) => times[k]!.push(once(c, a)));
    return times.map(median);
  } catch (err) {
    console.log(`  (${(err as Error).message})`);
    return cmds.map(() => undefined);
  }
}

function ociBundle(dir: string): string {
  const bundle = path.join(dir, 'bundle');
  fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  spawnSync('tar', ['-C', path.join(bundle, 'rootfs'), '-xf', busyboxTar()]);
  spawnSync('crun', ['spec'], { cwd: bundle });
  const cfgFile = path.join(bundle, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  cfg.process.args = ['true'];
  cfg.process.terminal = false;
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  return bundle;
}

/**
 * The default bridge: tsrun's (its own bridge device and subnet, made by this
 * temporary root and gone with its last container) beside podman's default
 * network, both torn down by --rm.
 */
function benchBridge(root: string, pm: ReturnType<typeof podman> | undefined): void {
  const tsrunMs = time(process.execPath, [TSRUN, '--root', root, 'run', '--rm', 'busybox', 'true']);
  // the teardown runs in a detached job after run returns (network/pending.ts): also time run + that job
  const pending = path.join(root, 'networks', 'pending');
  const busy = () => fs.existsSync(pending) && fs.readdirSync(pending).some((f) => f.endsWith('.json'));
  const withJob: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    once(process.execPath, [TSRUN, '--root', root, 'run', '--rm', 'busybox', 'true']);
    while (busy()) spawnSync('sleep', ['0.002']);
    withJob.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  let podmanMs: number | undefined;
  if (pm) {
    const base = ['--root', `${pm.dir}/graph`, '--runroot', `${pm.dir}/run`, '--cgroup-manager', 'cgroupfs'];
    podmanMs = time('podman', [...base, 'run', '--rm', '--network', 'bridge', 'busybox:latest', 'true'], pm.env);
  }
  console.log(`  ${'tsrun run --rm (default bridge)'.padEnd(36)} ${tsrunMs === undefined ? 'failed' : `${tsrunMs.toFixed(1)} ms`}`);
  console.log(`  ${'  … until its teardown job is done'.padEnd(36)} ${median(withJob).toFixed(1)} ms`);
  console.log(`  ${'podman run --rm (default network)'.padEnd(36)} ${podmanMs === undefined ? 'failed' : `${podmanMs.toFixed(1)} ms`}`);
  if (tsrunMs !== undefined && podmanMs !== undefined) console.log(`  tsrun/podman on a bridge: ${(tsrunMs / podmanMs).toFixed(2)}x (target <= 0.6x)`);
  const trace = spawnSync(process.execPath, [TSRUN, '--root', root, 'run', '--rm', 'busybox', 'true'], { env: { ...process.env, TSRUN_TRACE_STARTUP: '1' }, encoding: 'utf8' });
  const line = trace.stderr.split('\n').find((l) => l.includes('network set up'));
  console.log(`  ${line ? line.replace(/^trace\s+[\d.]+ ms\s+\+\s*[\d.]+\s+/, '') : 'network set-up trace missing'}`);
}

export async function benchRun(): Promise<void> {
  const t = tempRoot('tsrun-bench-run-');
  const pm = have('podman') ? podman(t.scratch) : undefined;
  try {
    importBusybox(t.root);
    const rows: [string, number | undefined][] = [];
    const [nodeFloor, tsrunRun] = timeSideBySide([
      [process.execPath, ['-e', '0']],
      [process.execPath, [TSRUN, '--root', t.root, 'run', '--rm', '--network', 'none', 'busybox', 'true']],
    ]);
    rows.push(['node -e 0', nodeFloor]);
    rows.push(['tsrun run --rm --network none', tsrunRun]);
    const bundle = ociBundle(t.scratch);
    let n = 0;
    for (const rt of ['crun', 'runc']) {
      if (!have(rt)) continue;
      const state = path.join(t.scratch, `${rt}-state`);
      const ms = time('sh', ['-c', `${rt} --root ${state} run -b ${bundle} b$$-${n++} && true`]);
      rows.push([`${rt} run (OCI bundle)`, ms]);
      if (ms !== undefined) break; // crun refuses hybrid cgroups here; runc is the fallback peer
    }
    if (pm) {
      pm.run(['import', busyboxTar(), 'busybox:latest']);
      const base = ['--root', `${pm.dir}/graph`, '--runroot', `${pm.dir}/run`, '--cgroup-manager', 'cgroupfs'];
      rows.push(['podman run --rm --network none', time('podman', [...base, 'run', '--rm', '--network', 'none', 'busybox:latest', 'true'], pm.env)]);
    }
    const tsrunMs = rows[1]![1];
    const nodeMs = rows[0]![1];
    for (const [name, ms] of rows) {
      const ratio = ms !== undefined && tsrunMs !== undefined ? `  tsrun/this = ${(tsrunMs / ms).toFixed(2)}` : '';
      console.log(`  ${name.padEnd(36)} ${ms === undefined ? 'failed' : `${ms.toFixed(1)} ms`}${ratio}`);
    }
    if (tsrunMs !== undefined && nodeMs !== undefined) console.log(`  tsrun run vs node -e 0: ${(tsrunMs / nodeMs).toFixed(2)}x (target <= 1.4x)`);
    const rss = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, TSRUN, '--root', t.root, 'run', '--rm', '--network', 'none', 'busybox', 'true'], { encoding: 'utf8' });
    const kb = Number(rss.stderr.trim().split('\n').pop());
    console.log(`  tsrun peak RSS: ${Number.isFinite(kb) ? `${(kb / 1024).toFixed(1)} MiB` : 'unknown'} (target < 60 MiB)`);
    benchBridge(t.root, pm);
  } finally {
    pm?.cleanup();
    t.cleanup();
  }
}
