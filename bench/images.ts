/**
 * Image benchmarks, side by side with podman on the same big image
 * (10,000 files, ~100 MB; bench/fixture.ts):
 *   load   tsrun load vs podman load of the docker-archive podman save wrote
 *   save   tsrun save vs podman save
 *   import tsrun import throughput (MB/s)
 *   rmi    removing the loaded image (its blobs and its unpacked layer)
 * Each tool gets a fresh store per run; prints times and ratios.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bigRootfsTar } from './fixture.js';
import { podman, have } from '../test/helpers/peers.js';
import { TSRUN, cleanupDir } from '../test/helpers/cli.js';

function timed(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function tsrun(root: string, args: string[]): void {
  const r = spawnSync(process.execPath, [TSRUN, '--root', root, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`tsrun ${args.join(' ')}: ${r.stderr.toString()}`);
}

const fmt = (s: number) => `${s.toFixed(2)} s`;

export async function benchImages(): Promise<void> {
  if (!have('podman')) {
    console.log('images: podman is not installed; skipped');
    return;
  }
  const tar = await bigRootfsTar();
  const mb = fs.statSync(tar).size / 1e6;
  const base = fs.mkdtempSync('/tmp/tsb-'); // podman wants a short runroot
  try {
    const seed = podman(path.join(base, 'seed'));
    seed.run(['import', tar, 'big:1']);
    const archive = path.join(base, 'big-docker.tar');
    seed.run(['save', '--format', 'docker-archive', '-o', archive, 'big:1']);
    seed.cleanup();

    const runs = Number(process.env.BENCH_RUNS ?? 2);
    const res = { tLoad: [] as number[], pLoad: [] as number[], tSave: [] as number[], pSave: [] as number[], tImport: [] as number[], tRmi: [] as number[], pRmi: [] as number[] };
    for (let i = 0; i < runs; i++) {
      const p = podman(path.join(base, `p${i}`));
      p.run(['images']); // create the store outside the timing
      res.pLoad.push(timed(() => p.run(['load', '-i', archive])));
      res.pSave.push(timed(() => p.run(['save', '-o', path.join(base, `p${i}.tar`), 'big:1'])));
      res.pRmi.push(timed(() => p.run(['rmi', 'big:1'])));
      p.cleanup();
      fs.rmSync(path.join(base, `p${i}.tar`), { force: true });

      const root = path.join(base, `t${i}`);
      tsrun(root, ['images']);
      res.tLoad.push(timed(() => tsrun(root, ['load', '-q', '-i', archive])));
      res.tSave.push(timed(() => tsrun(root, ['save', '-o', path.join(base, `t${i}.tar`), 'localhost/big:1'])));
      fs.rmSync(path.join(base, `t${i}.tar`), { force: true });
      res.tRmi.push(timed(() => tsrun(root, ['rmi', 'localhost/big:1']))); // untag, delete blobs and the 10,000-file layer
      const iroot = path.join(base, `ti${i}`);
      tsrun(iroot, ['images']);
      res.tImport.push(timed(() => tsrun(iroot, ['import', tar, 'imp:1'])));
      cleanupDir(root);
      cleanupDir(iroot);
    }
    const min = (xs: number[]) => Math.min(...xs);
    const rows = [
      ['load', fmt(min(res.tLoad)), fmt(min(res.pLoad)), (min(res.tLoad) / min(res.pLoad)).toFixed(2)],
      ['save', fmt(min(res.tSave)), fmt(min(res.pSave)), (min(res.tSave) / min(res.pSave)).toFixed(2)],
      ['rmi', fmt(min(res.tRmi)), fmt(min(res.pRmi)), (min(res.tRmi) / min(res.pRmi)).toFixed(2)],
    ];
    console.log(`images (${mb.toFixed(0)} MB, 10,000 files; best of ${runs}):`);
    console.log('  op     tsrun     podman    tsrun/podman');
    for (const r of rows) console.log(`  ${r[0]!.padEnd(6)} ${r[1]!.padEnd(9)} ${r[2]!.padEnd(9)} ${r[3]}`);
    console.log(`  import ${fmt(min(res.tImport))} (${(mb / min(res.tImport)).toFixed(1)} MB/s)`);
  } finally {
    cleanupDir(base);
  }
}

const isEntry = process.argv[1] && /bench\/images\.js$/.test(process.argv[1]);
if (isEntry) await benchImages();
