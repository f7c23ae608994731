/**
 * commit benchmark: tsrun commit vs podman commit vs buildah commit, side by
 * side, for a ~100 MB / 10,000-file diff and for a one-file diff, with
 * `tar -cf - UPPER | sha256sum` as the floor (reading and hashing the same
 * bytes, storing nothing), and `docker commit` of the large diff on a private
 * dockerd started for this run (docker-commit.ts). Prints times and ratios
 * against the targets: large: >= 6x faster than docker commit and within 2x
 * of the floor; small: no slower than podman.
 *
 * Each tool gets the same tree the same way: a container of the busybox image
 * unpacks the fixture tarball into /data, then is committed. tsrun uses `run`
 * when it works, else writes the container's upper dir directly (the commit
 * being measured is the same either way).
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO, tempRoot, tsrun, tsrunOk, importBusybox, busyboxTar } from '../test/helpers/cli.js';
import { podman, have, sh } from '../test/helpers/peers.js';
import { bigRootfsTar } from './fixture.js';
import { dockerCommit } from './docker-commit.js';

function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}

/** Best of n runs of setup() (untimed) then fn() (timed). */
function best(n: number, setup: (i: number) => void, fn: (i: number) => void): number {
  let b = Infinity;
  for (let i = 0; i < n; i++) {
    setup(i);
    b = Math.min(b, time(() => fn(i)));
  }
  return b;
}

const fmt = (s: number) => (Number.isFinite(s) ? `${s.toFixed(3)} s` : 'n/a');

/** A tsrun container named NAME whose upper dir holds the tree (via run, or by hand when run is not there yet). */
async function tsrunContainer(root: string, name: string, tarDir: string, script: string): Promise<string> {
  if (fs.existsSync(path.join(REPO, 'dist/src/cli/commands/run.js'))) {
    const r = tsrun(root, ['run', '--name', name, '-v', `${tarDir}:/src:ro`, 'busybox', 'sh', '-c', script]);
    if (r.code === 0) return name;
    console.log(`(tsrun run failed, writing the upper dir by hand: ${r.stderr.trim()})`);
  }
  const { fakeCreate } = await import('../test/integration/lifecycle-fake-launcher.js');
  const { id, dir } = fakeCreate(root, ['sh', '-c', script], { name: `${name}_fake` });
  sh('sh', ['-c', script.replaceAll('/src', tarDir).replaceAll(' /data', ` ${dir}/upper/data`).replaceAll('> /', `> ${dir}/upper/`)]);
  return id;
}

export async function benchCommit(): Promise<void> {
  const bigTar = await bigRootfsTar();
  const tarDir = path.dirname(bigTar);
  const LARGE = `mkdir -p /data && tar -xf /src/${path.basename(bigTar)} -C /data`;
  const SMALL = 'echo one > /one';
  const tr = tempRoot('tsrun-bench-commit-');
  const rows: [string, number, number][] = [];
  try {
    importBusybox(tr.root);
    // --- tsrun
    const large: string[] = [];
    const small: string[] = [];
    for (let i = 0; i < 3; i++) large.push(await tsrunContainer(tr.root, `big${i}`, tarDir, LARGE));
    for (let i = 0; i < 5; i++) small.push(await tsrunContainer(tr.root, `small${i}`, tarDir, SMALL));
    const upperOf = (ref: string) => {
      const ctr = JSON.parse(tsrunOk(tr.root, ['container', 'inspect', ref]))[0];
      return ctr?.GraphDriver?.Data?.UpperDir as string | undefined;
    };
    let upper = '';
    try {
      upper = upperOf(large[0]!) ?? '';
    } catch {
      /* inspect not there: find the dir by hand below */
    }
    if (!upper) {
      for (const id of fs.readdirSync(path.join(tr.root, 'containers'))) {
        const cfg = path.join(tr.root, 'containers', id, 'config.json');
        if (fs.existsSync(cfg) && fs.readFileSync(cfg, 'utf8').includes('"big0')) upper = path.join(tr.root, 'containers', id, 'upper');
      }
    }
    const floor = best(3, () => undefined, () => sh('sh', ['-c', `tar -cf - -C ${upper} . | sha256sum`]));
    const tsLarge = best(3, () => undefined, (i) => tsrunOk(tr.root, ['commit', large[i]!, `big:${i}`]));
    const tsSmall = best(5, () => undefined, (i) => tsrunOk(tr.root, ['commit', small[i]!, `small:${i}`]));

    // --- podman
    let pdLarge = NaN;
    let pdSmall = NaN;
    let bhLarge = NaN;
    let bhSmall = NaN;
    if (have('podman')) {
      const pm = podman(tr.scratch);
      try {
        pm.run(['import', busyboxTar(), 'bb']);
        for (let i = 0; i < 3; i++) pm.run(['run', '--name', `big${i}`, '-v', `${tarDir}:/src:ro`, 'bb', 'sh', '-c', LARGE]);
        for (let i = 0; i < 5; i++) pm.run(['run', '--name', `small${i}`, 'bb', 'sh', '-c', SMALL]);
        pdLarge = best(3, () => undefined, (i) => pm.run(['commit', '-q', `big${i}`, `big:${i}`]));
        pdSmall = best(5, () => undefined, (i) => pm.run(['commit', '-q', `small${i}`, `small:${i}`]));
        if (have('buildah')) {
          const bh = (args: string[]) => {
            const r = spawnSync('buildah', ['--root', `${pm.dir}/graph`, '--runroot', `${pm.dir}/run`, '--storage-driver', 'overlay', ...args], { env: pm.env, maxBuffer: 1 << 26 });
            if (r.status !== 0) throw new Error(`buildah ${args.join(' ')}: ${r.stderr.toString().trim()}`);
            return r.stdout.toString().trim();
          };
          try {
            const mk = (script: (mnt: string) => string) => {
              const ctr = bh(['from', '--pull-never', 'localhost/bb']);
              const mnt = bh(['mount', ctr]);
              sh('sh', ['-c', script(mnt)]);
              return ctr;
            };
            const bl: string[] = [];
            const bs: string[] = [];
            for (let i = 0; i < 3; i++) bl.push(mk((m) => `mkdir -p ${m}/data && tar -xf ${bigTar} -C ${m}/data`));
            for (let i = 0; i < 5; i++) bs.push(mk((m) => `echo one > ${m}/one`));
            bhLarge = best(3, () => undefined, (i) => bh(['commit', '-q', bl[i]!, `bbig:${i}`]));
            bhSmall = best(5, () => undefined, (i) => bh(['commit', '-q', bs[i]!, `bsmall:${i}`]));
            for (const c of [...bl, ...bs]) bh(['rm', c]);
          } catch (err) {
            console.log(`(buildah skipped: ${(err as Error).message.split('\n')[0]})`);
          }
        }
      } catch (err) {
        console.log(`(podman skipped: ${(err as Error).message.split('\n')[0]})`);
      } finally {
        pm.cleanup();
      }
    }
    // --- docker (a daemon of its own, stopped before the table is printed)
    let dkLarge = NaN;
    let dkDriver = '';
    try {
      const d = dockerCommit({ root: tr.root, scratch: tr.scratch, srcDir: tarDir, script: LARGE, n: 3 });
      dkLarge = d.seconds;
      dkDriver = d.driver;
    } catch (err) {
      console.log(`(docker not measured: ${(err as Error).message.split('\n')[0]})`);
    }
    rows.push(['floor: tar -cf - UPPER | sha256sum', floor, NaN]);
    rows.push(['tsrun commit', tsLarge, tsSmall]);
    rows.push(['podman commit', pdLarge, pdSmall]);
    rows.push(['buildah commit', bhLarge, bhSmall]);
    rows.push([`docker commit${dkDriver ? ` (dockerd 20.10, ${dkDriver})` : ''}`, dkLarge, NaN]);
    const w = Math.max(...rows.map(([n]) => n.length)) + 2;
    console.log(`${'tool'.padEnd(w)}${'100 MB / 10k files'.padEnd(22)}one file`);
    for (const [n, l, s] of rows) console.log(`${n.padEnd(w)}${fmt(l).padEnd(22)}${fmt(s)}`);
    const ok = (b: boolean) => (b ? 'OK' : 'MISSED');
    const vsDocker = Number.isFinite(dkLarge) ? `${(dkLarge / tsLarge).toFixed(1)}x faster than docker commit (target >= 6x: ${ok(dkLarge / tsLarge >= 6)})` : 'docker commit not measured (target >= 6x: MISSED)';
    console.log(`large: ${vsDocker}; ${(tsLarge / floor).toFixed(2)}x the floor (target <= 2x: ${ok(tsLarge / floor <= 2)})`);
    if (Number.isFinite(pdLarge)) console.log(`large: ${(pdLarge / tsLarge).toFixed(1)}x faster than podman`);
    if (Number.isFinite(pdSmall)) console.log(`small: ${(pdSmall / tsSmall).toFixed(1)}x podman's speed (target >= 1x: ${ok(tsSmall <= pdSmall)})`);
  } finally {
    tr.cleanup();
  }
}
