/**
 * The store is never wedged by what it cannot delete (issue 10 item 1):
 *  - a trash dir left in layers/.tmp by a killed tsrun, holding a tree
 *    deeper than PATH_MAX (what a 2,100-level layer used to leave behind), is
 *    swept by the next command, and rmi, prune and pull all work;
 *  - a layer with an entry that cannot be removed (a mount point inside it)
 *    does not stop rmi: the image goes, the other layers go, the stuck one
 *    waits in layers/.tmp and is swept once it can be.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempRoot, tsrun, tsrunOk, importBusybox, mountsUnder } from '../helpers/cli.js';
import { buildTar } from '../unit/tarfixture.js';

const t = tempRoot('tsrun-wedge-');
after(() => t.cleanup());

/**
 * A PID no process has: the kernel's pid_max, one past the highest it hands out. (The PID of a child
 * that exited can be handed out again before the sweep looks, on a busy machine that cycles PIDs.)
 */
function deadPid(): number {
  return Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
}

const layerDirs = () => fs.readdirSync(path.join(t.root, 'layers')).filter((d) => /^[a-f0-9]{64}$/.test(d));
const trash = () => fs.readdirSync(path.join(t.root, 'layers', '.tmp'));

test("a dead process's trash deeper than PATH_MAX is swept; rmi, prune and import work", async () => {
  importBusybox(t.root, 'busybox:latest');
  const doomed = path.join(t.root, 'layers', '.tmp', `${deadPid()}-rm-${'f'.repeat(64)}`);
  // paths of ~6 KB: two chains of 30 long names, one renamed into the other (mkdir cannot make a path past
  // PATH_MAX); the count of levels is tried on removeTree itself (unit/apply-compat) and by the hostile suite
  const chain = Array.from({ length: 30 }, (_, i) => `${i}`.padEnd(100, 'x')).join('/');
  fs.mkdirSync(path.join(doomed, chain), { recursive: true });
  const second = path.join(t.scratch, 'second');
  fs.mkdirSync(path.join(second, chain), { recursive: true });
  fs.writeFileSync(path.join(second, chain, 'deepest'), 'x');
  fs.renameSync(second, path.join(doomed, chain, 'b'));

  const tar = path.join(t.scratch, 'one.tar');
  fs.writeFileSync(tar, await buildTar([{ name: 'x', content: 'x' }]));
  tsrunOk(t.root, ['import', tar, 'one:1']);
  tsrunOk(t.root, ['rmi', 'one:1']);
  assert.deepEqual(trash(), [], 'rmi swept it');
  tsrunOk(t.root, ['image', 'prune', '-a', '-f']);
  assert.deepEqual(layerDirs(), []);
});

test('a layer with an entry that cannot be removed does not stop rmi, and is swept later', async () => {
  importBusybox(t.root, 'busybox:latest');
  const tar = path.join(t.scratch, 'two.tar');
  fs.writeFileSync(tar, await buildTar([{ name: 'd/', mode: 0o755 }, { name: 'd/f', content: 'f' }]));
  tsrunOk(t.root, ['import', tar, 'two:1']);
  const [busyLayer, twoLayer] = ((): string[] => {
    const all = layerDirs();
    assert.equal(all.length, 2);
    const two = all.find((d) => fs.existsSync(path.join(t.root, 'layers', d, 'diff', 'd', 'f')));
    assert.ok(two, 'the layer of two:1');
    return [all.find((d) => d !== two)!, two];
  })();
  // a mount point inside the layer: rmdir gets EBUSY
  const src = path.join(t.scratch, 'src');
  fs.mkdirSync(src, { recursive: true });
  assert.equal(spawnSync('mount', ['--bind', src, path.join(t.root, 'layers', twoLayer!, 'diff', 'd')]).status, 0);
  try {
    const r = tsrun(t.root, ['rmi', 'two:1', 'busybox:latest']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(layerDirs(), [], `both layers left the store (${busyLayer})`);
    assert.equal(trash().length, 1, 'the stuck one waits in .tmp');
    // the store is not wedged
    importBusybox(t.root, 'busybox:again');
    tsrunOk(t.root, ['image', 'prune', '-a', '-f']);
  } finally {
    for (const m of mountsUnder(t.root)) spawnSync('umount', ['-l', m]);
  }
  tsrunOk(t.root, ['image', 'prune', '-a', '-f']);
  assert.deepEqual(trash(), [], 'swept once it could be');
  assert.deepEqual(layerDirs(), []);
});
