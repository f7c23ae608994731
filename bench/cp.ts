/**
 * cp benchmark: `tsrun cp` beside `podman cp`, both ways, for the ~100 MB / 10,000-file tree of
 * bench/fixture.ts, into and out of a running container (`sleep`) and a stopped one. Target: tsrun
 * at most 0.5x podman's time. Best of 3, each into a fresh destination; the copies are removed at the
 * end, not between runs: this VM's ext4 has no journal, and such an ext4 checks every new inode
 * against those freed in the last 30 s, so 10,000 files made right after 10,000 were deleted cost
 * both tools seconds of kernel time that are the disk's, not theirs (0.95x with a removal before
 * each copy out of the stopped container, both tools ~8 s; the copies in never had it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrunOk, importBusybox, busyboxTar } from '../test/helpers/cli.js';
import { podman } from '../test/helpers/peers.js';
import { makeBigTree } from './fixture.js';

function best(n: number, setup: () => void, fn: () => void): number {
  let b = Infinity;
  for (let i = 0; i < n; i++) {
    setup();
    const t = performance.now();
    fn();
    b = Math.min(b, (performance.now() - t) / 1000);
  }
  return b;
}

const fmt = (s: number) => (Number.isFinite(s) ? `${s.toFixed(3)} s` : 'n/a');

export async function benchCp(): Promise<void> {
  const tr = tempRoot('tsrun-bench-cp-');
  const pm = podman(tr.scratch);
  try {
    const tree = path.join(tr.scratch, 'tree');
    fs.mkdirSync(tree);
    makeBigTree(tree);
    let outs = 0;
    const freshOut = () => path.join(tr.scratch, `out${++outs}`);
    importBusybox(tr.root);
    tsrunOk(tr.root, ['run', '-d', '--network', 'none', '--name', 'live', 'busybox', 'sleep', '1000']);
    tsrunOk(tr.root, ['create', '--network', 'none', '--name', 'stopped', 'busybox', 'sleep', '1000']);
    pm.run(['import', busyboxTar(), 'bb']);
    pm.run(['run', '-d', '--name', 'live', 'bb', 'sleep', '1000']);
    pm.run(['create', '--name', 'stopped', 'bb', 'sleep', '1000']);
    const rows: [string, number, number][] = [];
    for (const ctr of ['live', 'stopped']) {
      // into the container: a fresh name each time (a copy onto an earlier copy overwrites, a different job)
      let n = 0;
      const tIn = best(3, () => n++, () => void tsrunOk(tr.root, ['cp', tree, `${ctr}:/in${n}`]));
      let m = 0;
      const pIn = best(3, () => m++, () => void pm.run(['cp', tree, `${ctr}:/in${m}`]));
      let out = '';
      const tOut = best(3, () => (out = freshOut()), () => void tsrunOk(tr.root, ['cp', `${ctr}:/in1`, out]));
      const pOut = best(3, () => (out = freshOut()), () => void pm.run(['cp', `${ctr}:/in1`, out]));
      rows.push([`host -> ${ctr} container`, tIn, pIn], [`${ctr} container -> host`, tOut, pOut]);
    }
    console.log('cp of 100 MB / 10,000 files (best of 3)      tsrun      podman   ratio (target <= 0.5x)');
    for (const [what, t, p] of rows) console.log(`  ${what.padEnd(40)} ${fmt(t).padStart(9)}  ${fmt(p).padStart(9)}   ${(t / p).toFixed(2)}x`);
  } finally {
    pm.cleanup();
    tr.cleanup();
  }
}
