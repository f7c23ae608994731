/**
 * tsrun-runtime beside runc (issue 11's targets): create+start+delete of the
 * same busybox bundle (target: within 1.5x of runc), and `podman run --rm
 * busybox true` with each as podman's runtime (target: no slower than runc;
 * conmon calls the runtime 3-4 times per container), and crun where it runs
 * (crunLine). Commands alternate, so
 * a busy machine's load hits both alike; medians of RUNS.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, busyboxTar } from '../test/helpers/cli.js';
import { podman, have } from '../test/helpers/peers.js';
import { RUNTIME } from '../test/helpers/oci.js';
import { median, once } from './timing.js';

const RUNS = 15;

function sideBySide(cmds: [string, string[], NodeJS.ProcessEnv?][]): (number | undefined)[] {
  try {
    for (const [c, a, e] of cmds) once(c, a, e);
    const times = cmds.map(() => [] as number[]);
    for (let i = 0; i < RUNS; i++) cmds.forEach(([c, a, e], k) => times[k]!.push(once(c, a, e)));
    return times.map(median);
  } catch (err) {
    console.log(`  (${(err as Error).message})`);
    return cmds.map(() => undefined);
  }
}

function bundle(dir: string): string {
  const b = path.join(dir, 'bundle');
  fs.mkdirSync(path.join(b, 'rootfs'), { recursive: true });
  spawnSync('tar', ['-C', path.join(b, 'rootfs'), '-xf', busyboxTar()]);
  spawnSync(RUNTIME, ['spec', '--bundle', b]);
  const cfg = JSON.parse(fs.readFileSync(path.join(b, 'config.json'), 'utf8'));
  cfg.process.args = ['true'];
  cfg.process.terminal = false;
  fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(cfg));
  return b;
}

/** create, start, delete --force of one container, as one shell command ($$ keeps ids apart). */
function lifecycle(rt: string, state: string, b: string): [string, string[]] {
  const id = `b$$`;
  return ['sh', ['-c', `${rt} --root ${state} create --bundle ${b} ${id} && ${rt} --root ${state} start ${id} && ${rt} --root ${state} delete --force ${id}`]];
}

/**
 * crun beside them when it runs here. crun 1.8 (Debian bookworm) refuses a cgroup v1/v2 hybrid
 * host ("cgroups in hybrid mode not supported") and runtime-spec 1.2.0 bundles: then its own
 * one-line reason is printed instead of a time. Its bundle is a copy with ociVersion 1.0.2.
 */
function crunLine(scratch: string, b: string, ours: number | undefined): void {
  if (!have('crun')) {
    console.log('  crun: not installed');
    return;
  }
  const cb = path.join(scratch, 'crun-bundle');
  fs.mkdirSync(cb, { recursive: true });
  fs.symlinkSync(path.join(b, 'rootfs'), path.join(cb, 'rootfs'));
  const cfg = JSON.parse(fs.readFileSync(path.join(b, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(cb, 'config.json'), JSON.stringify({ ...cfg, ociVersion: '1.0.2' }));
  const state = path.join(scratch, 'crun-state');
  const probe = spawnSync('crun', ['--root', state, 'run', '--bundle', cb, `probe-${process.pid}`], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.log(`  crun: does not run here (${(probe.stderr || probe.stdout).trim().split('\n')[0]})`);
    return;
  }
  const [c] = sideBySide([lifecycle('crun', state, cb)]);
  console.log(`  ${'create+start+delete (bundle)'.padEnd(44)} crun ${c === undefined ? 'failed' : `${c.toFixed(1)} ms`}${c !== undefined && ours !== undefined ? `  tsrun-runtime/crun ${(ours / c).toFixed(2)}x` : ''}`);
}

export async function benchOci(): Promise<void> {
  const t = tempRoot('tsrun-bench-oci-');
  const pm = have('podman') ? podman(t.scratch) : undefined;
  try {
    const b = bundle(t.scratch);
    const [ours, runc] = sideBySide([lifecycle(RUNTIME, path.join(t.scratch, 'ts-state'), b), lifecycle('runc', path.join(t.scratch, 'runc-state'), b)]);
    const line = (name: string, a?: number, r?: number, target = '') =>
      console.log(`  ${name.padEnd(44)} tsrun-runtime ${a === undefined ? 'failed' : `${a.toFixed(1)} ms`}  runc ${r === undefined ? 'failed' : `${r.toFixed(1)} ms`}${a !== undefined && r !== undefined ? `  ratio ${(a / r).toFixed(2)}x ${target}` : ''}`);
    line('create+start+delete (bundle)', ours, runc, '(target <= 1.5x)');
    crunLine(t.scratch, b, ours);
    if (pm) {
      pm.run(['import', busyboxTar(), 'busybox:latest']);
      const base = ['--root', `${pm.dir}/graph`, '--runroot', `${pm.dir}/run`, '--cgroup-manager', 'cgroupfs'];
      const run = (rt: string[]): [string, string[], NodeJS.ProcessEnv] => ['podman', [...base, ...rt, 'run', '--rm', '--network', 'none', 'busybox:latest', 'true'], pm.env];
      // each with its default root (/run/tsrun-runtime, /run/runc), as podman users run them: podman's
      // clean-up process would not get a --runtime-flag root
      const [pOurs, pRunc] = sideBySide([run(['--runtime', RUNTIME]), run(['--runtime', 'runc'])]);
      line('podman run --rm busybox true', pOurs, pRunc, '(target <= 1.0x)');
    }
  } finally {
    pm?.cleanup();
    t.cleanup();
  }
}
