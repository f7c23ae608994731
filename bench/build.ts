/**
 * `tsrun build` beside `podman build` (buildah inside), in one run, alternating the two
 * (so load that comes and goes hits both alike), on Dockerfiles made here:
 *   1. 10 small RUN steps on busybox, cold (--no-cache)
 *   2. the same, fully cached
 *   3. COPY of a 100 MB / 10,000-file context, cold, beside `tar -c CONTEXT | sha256sum`
 *   4. one byte changed in a file that step 3 of 10 copies: only steps 3-10 rerun
 * Both on --network none (the build machinery, not netavark), then scenario 1 again on
 * each one's default network. Medians of REPS (BENCH_RUNS, default 3). Prints the ratios against
 * the issue's targets. BENCH_BUILD=copy,onebyte,… runs only those scenarios (runs: 1 and 2,
 * net: 1 on the default network, copy: 3, onebyte: 4).
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempRoot, importBusybox, busyboxTar, TSRUN } from '../test/helpers/cli.js';
import { podman, have, type Podman } from '../test/helpers/peers.js';
import { makeBigTree } from './fixture.js';
import { median } from './timing.js';

const REPS = Number(process.env.BENCH_RUNS ?? 3);
const ONLY = process.env.BENCH_BUILD?.split(',').map((x) => x.trim());
const want = (scenario: 'runs' | 'net' | 'copy' | 'onebyte') => !ONLY || ONLY.includes(scenario);
const skipped = (n: number) => Array.from({ length: n }, (): number | undefined => undefined);
const BASE = 'localhost/busybox:latest';

function timed(cmd: string, args: string[], env?: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env: env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000, maxBuffer: 1 << 26 });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.slice(0, 6).join(' ')}…: exit ${r.status}: ${r.stderr.toString().trim().split('\n').slice(-2).join(' / ')}`);
  return s;
}

interface Builder {
  name: string;
  build(dir: string, flags: string[]): number;
  /** Before a cold COPY: forget what a previous run learnt about the context's files. */
  forget(): void;
}

function tsrunBuilder(root: string): Builder {
  return {
    name: 'tsrun build',
    build: (dir, flags) => timed(process.execPath, [TSRUN, '--root', root, 'build', '-q', '-t', 'bench', ...flags, dir]),
    forget: () => fs.rmSync(path.join(root, 'build-cache', 'filesums.json'), { force: true }),
  };
}

function podmanBuilder(pm: Podman): Builder {
  const base = ['--root', `${pm.dir}/graph`, '--runroot', `${pm.dir}/run`, '--cgroup-manager', 'cgroupfs'];
  return {
    name: 'podman build',
    build: (dir, flags) => timed('podman', [...base, 'build', '-q', '--pull=never', '--layers', '-t', 'bench', ...flags.map((f) => (f === '--network=default' ? '--network=private' : f)), dir], pm.env),
    forget: () => {},
  };
}

/** Median seconds per builder, the builders alternating within each rep; setup runs before each timed build. */
function sideBySide(builders: Builder[], setup: (b: Builder, rep: number) => void, run: (b: Builder, rep: number) => number): (number | undefined)[] {
  const times = builders.map(() => [] as number[]);
  const failed = builders.map(() => false);
  for (let rep = 0; rep < REPS; rep++) {
    builders.forEach((b, k) => {
      if (failed[k]) return;
      try {
        setup(b, rep);
        times[k]!.push(run(b, rep));
      } catch (err) {
        failed[k] = true;
        console.log(`  (${b.name}: ${(err as Error).message})`);
      }
    });
  }
  return times.map((t, k) => (failed[k] || !t.length ? undefined : median(t)));
}

function context(dir: string, dockerfile: string, files: Record<string, string> = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
  for (const [f, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), data);
  return dir;
}

const tenRuns = (tag: string) => [`FROM ${BASE}`, ...Array.from({ length: 10 }, (_, i) => `RUN echo ${tag}-step${i + 1} > /f${i + 1}`)].join('\n') + '\n';

const fmt = (s: number | undefined) => (s === undefined ? 'failed' : `${s.toFixed(3)} s`);
const ok = (b: boolean) => (b ? 'OK' : 'MISSED');

export async function benchBuild(): Promise<void> {
  const t = tempRoot('tsrun-bench-build-');
  const pm = have('podman') ? podman(t.scratch) : undefined;
  if (!pm) console.log('  (podman is not installed: tsrun alone, no ratios)');
  try {
    importBusybox(t.root, BASE);
    const builders = [tsrunBuilder(t.root)];
    if (pm) {
      pm.run(['import', busyboxTar(), BASE]);
      builders.push(podmanBuilder(pm));
    }
    const rows: [string, (number | undefined)[]][] = [];

    // 1 + 2: ten RUN steps, cold then fully cached
    const ten = context(path.join(t.scratch, 'ten'), tenRuns('a'));
    const cold = want('runs') ? sideBySide(builders, () => {}, (b) => b.build(ten, ['--no-cache', '--network=none'])) : skipped(builders.length);
    if (want('runs')) rows.push(['1. 10 RUN steps, cold (--network none)', cold]);
    const cached = want('runs') ? sideBySide(builders, (b) => b.build(ten, ['--network=none']), (b) => b.build(ten, ['--network=none'])) : skipped(builders.length);
    if (want('runs')) rows.push(['2. the same, fully cached', cached]);
    const coldNet = want('net') ? sideBySide(builders, () => {}, (b) => b.build(ten, ['--no-cache', '--network=default'])) : skipped(builders.length);
    if (want('net')) rows.push(['1b. 10 RUN steps, cold, default network', coldNet]);

    // 3: COPY of a 100 MB / 10,000-file context, cold
    let copy = skipped(builders.length);
    let floor = NaN;
    if (want('copy')) {
      const big = path.join(t.scratch, 'big');
      fs.mkdirSync(big);
      makeBigTree(big);
      context(big, `FROM ${BASE}\nCOPY . /data\n`);
      floor = median(Array.from({ length: REPS }, () => timed('sh', ['-c', `tar -cf - -C ${big} . | sha256sum >/dev/null`])));
      copy = sideBySide(builders, (b) => b.forget(), (b) => b.build(big, ['--no-cache', '--network=none']));
      rows.push(['3. COPY 100 MB / 10,000 files, cold', copy]);
      rows.push(['   floor: tar -c CONTEXT | sha256sum', [floor]]);
    }

    // 4: one byte changed in the file step 3 copies; steps 3-10 rerun
    const mid = context(
      path.join(t.scratch, 'mid'),
      [`FROM ${BASE}`, 'RUN echo one > /one', 'RUN echo two > /two', 'COPY data.bin /data.bin', ...Array.from({ length: 7 }, (_, i) => `RUN cat /data.bin > /after${i + 4}`)].join('\n') + '\n',
      { 'data.bin': 'x'.repeat(4096) },
    );
    let n = 0;
    const oneByte = want('onebyte')
      ? sideBySide(
          builders,
          (b) => {
            b.build(mid, ['--network=none']); // everything cached as it is now
            const fd = fs.openSync(path.join(mid, 'data.bin'), 'r+');
            fs.writeSync(fd, Buffer.from([0x41 + (n++ % 50)]), 0, 1, 100); // a byte value not used before
            fs.closeSync(fd);
          },
          (b) => b.build(mid, ['--network=none']),
        )
      : skipped(builders.length);
    if (want('onebyte')) rows.push(['4. one byte changed at step 3 of 10', oneByte]);

    console.log(`  ${'scenario'.padEnd(44)}${'tsrun'.padEnd(12)}${'podman'.padEnd(12)}tsrun/podman`);
    for (const [name, [a, b]] of rows) {
      const ratio = a !== undefined && b !== undefined ? (a / b).toFixed(2) + 'x' : '';
      console.log(`  ${name.padEnd(44)}${fmt(a).padEnd(12)}${(b === undefined ? '' : fmt(b)).padEnd(12)}${ratio}`);
    }
    const [tc, pc] = cold;
    if (tc !== undefined) console.log(`  1: tsrun ${(tc / 10).toFixed(3)} s a step${pc !== undefined ? `, podman ${(pc / 10).toFixed(3)} s: ${(tc / pc).toFixed(2)}x (target <= 0.5x: ${ok(tc / pc <= 0.5)})` : ''}`);
    const [tn, pn] = coldNet;
    if (tn !== undefined && pn !== undefined) console.log(`  1b: on the default network ${(tn / 10).toFixed(3)} vs ${(pn / 10).toFixed(3)} s a step: ${(tn / pn).toFixed(2)}x (target <= 0.5x: ${ok(tn / pn <= 0.5)})`);
    const [tk, pk] = cached;
    if (tk !== undefined) console.log(`  2: ${tk.toFixed(3)} s (target < 0.3 s: ${ok(tk < 0.3)})${pk !== undefined ? `; ${(tk / pk).toFixed(2)}x podman's (target <= 0.6x: ${ok(tk / pk <= 0.6)})` : ''}`);
    const [ty] = copy;
    if (ty !== undefined) console.log(`  3: ${(ty / floor).toFixed(2)}x the floor (target <= 2x: ${ok(ty / floor <= 2)})`);
    const [to, po] = oneByte;
    if (to !== undefined && po !== undefined) console.log(`  4: ${(to / po).toFixed(2)}x podman's (target <= 0.5x: ${ok(to / po <= 0.5)})`);
    if (want('onebyte')) {
      // the rerun steps of scenario 4 as tsrun reports them
      const log = spawnSync(process.execPath, [TSRUN, '--root', t.root, 'build', '--network', 'none', mid], { encoding: 'utf8' });
      const fs2 = path.join(mid, 'data.bin');
      const fd = fs.openSync(fs2, 'r+');
      fs.writeSync(fd, Buffer.from([0x7e]), 0, 1, 100);
      fs.closeSync(fd);
      const again = spawnSync(process.execPath, [TSRUN, '--root', t.root, 'build', '--network', 'none', mid], { encoding: 'utf8' });
      const cachedCount = (again.stderr.match(/ CACHED$/gm) ?? []).length;
      console.log(`  4: after a one-byte change tsrun reran ${10 - cachedCount} of 10 steps (expected 8)${log.status === 0 ? '' : ' (the warm-up build failed)'}`);
    }
    console.log('  layer writer vs docker commit: see `npm run bench -- commit` (the same writer beside docker commit on a private dockerd, podman and buildah)');
  } finally {
    pm?.cleanup();
    t.cleanup();
  }
}
