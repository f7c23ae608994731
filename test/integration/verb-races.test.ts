/**
 * Verbs under concurrency and SIGKILL, with real containers: every verb is
 * one locked transition (src/containers/transition.ts), so two concurrent
 * starts launch one container, a start racing rm never fails with a raw
 * errno, and a cgroup left frozen by a killed commit (no live holder of the
 * container's lock) is thawed by the next command.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, tsrunOk, tsrunSpawn, importBusybox, type TempRoot, type CliResult } from '../helpers/cli.js';
import { openCtx, type Ctx } from '../../src/context.js';
import { findContainer } from '../../src/containers/record.js';
import { cgroupDirs, cgroupExists, cgroupPids, freezeCgroup } from '../../src/runtime/cgroups.js';

let tr: TempRoot;
let ctx: Ctx;

before(() => {
  tr = tempRoot('tsrun-races-');
  importBusybox(tr.root);
  ctx = openCtx(tr.root);
});
after(() => tr?.cleanup());

/** Is the container's freezer frozen or freezing (read here, not through the code under test)? */
function freezeRequested(id: string, c: Ctx): boolean {
  const layout = cgroupDirs(id, c);
  if (layout.version === 2) return fs.readFileSync(path.join(layout.dirs[0]!, 'cgroup.freeze'), 'utf8').trim() === '1';
  return fs.readFileSync(path.join(layout.byController.get('freezer')!, 'freezer.state'), 'utf8').trim() !== 'THAWED';
}

/** Run tsrun with args asynchronously; resolves with its result. */
function tsrunAsync(args: string[], timeoutMs = 300_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = tsrunSpawn(tr.root, args);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr, signal });
    });
  });
}

test('two concurrent starts of one container launch it once (both succeed, as docker: the second finds it running)', async () => {
  for (let i = 0; i < 4; i++) {
    const name = `twice${i}`;
    tsrunOk(tr.root, ['create', '--network', 'none', '--name', name, 'busybox', 'sleep', '1000']);
    const id = findContainer(ctx, name).config.id;
    try {
      const results = await Promise.all([tsrunAsync(['start', name]), tsrunAsync(['start', name])]);
      for (const r of results) assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${name}\n`, ''], JSON.stringify(results));
      // one container process in its cgroup: a second launch would have added another sleep
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(cgroupPids(id, ctx).length, 1, `one process in the cgroup, got ${cgroupPids(id, ctx).join(',')}`);
    } finally {
      tsrunOk(tr.root, ['rm', '-f', name]);
    }
    assert.ok(!cgroupExists(id, ctx));
  }
});

test('start racing rm -f: start either runs first or finds No such container; nothing is left behind', async () => {
  for (let i = 0; i < 6; i++) {
    const name = `race${i}`;
    tsrunOk(tr.root, ['create', '--network', 'none', '--name', name, 'busybox', 'sleep', '1000']);
    const c = findContainer(ctx, name);
    const [start, rm] = await Promise.all([tsrunAsync(['start', name]), tsrunAsync(['rm', '-f', name])]);
    assert.equal(rm.code, 0, `rm -f: ${rm.stderr}`);
    if (start.code !== 0) {
      // one line, then docker's summary of the containers that did not start
      assert.match(start.stderr, /^tsrun: (No such container: race\d|(You )?cannot remove)[^\n]*\ntsrun: failed to start containers: race\d\n$/, `start: one line, no raw errno: ${start.stderr}`);
      assert.doesNotMatch(start.stderr, /ENOENT/);
    }
    assert.ok(!fs.existsSync(c.dir), 'the container dir is gone');
    assert.ok(!cgroupExists(c.config.id, ctx), 'its cgroup is gone');
  }
  assert.equal(tsrunOk(tr.root, ['ps', '-a', '-q']), '');
});

test('a cgroup left frozen by a killed commit is thawed by the next command (exec runs, ps says Up)', async () => {
  tsrunOk(tr.root, ['run', '-d', '--network', 'none', '--name', 'frozen', 'busybox', 'sleep', '1000']);
  const id = findContainer(ctx, 'frozen').config.id;
  // what a commit killed while the container was frozen leaves: state running, freezer FROZEN, no lock held
  freezeCgroup(id, ctx);
  assert.equal(freezeRequested(id, ctx), true);
  const exec = await tsrunAsync(['exec', 'frozen', 'echo', 'alive'], 60_000);
  assert.equal(exec.signal, null, 'exec did not hang');
  assert.equal(exec.code, 0, exec.stderr);
  assert.equal(exec.stdout, 'alive\n');
  assert.equal(freezeRequested(id, ctx), false, 'thawed');
  // ps alone also sees it: freeze again, ps reports Up (thawed), and pause/unpause work as usual
  freezeCgroup(id, ctx);
  assert.match(tsrunOk(tr.root, ['ps', '-f', 'name=frozen', '--format', '{{.Status}}']), /^Up/);
  assert.equal(freezeRequested(id, ctx), false, 'ps thawed it');
  tsrunOk(tr.root, ['pause', 'frozen']);
  tsrunOk(tr.root, ['unpause', 'frozen']);
  tsrunOk(tr.root, ['rm', '-f', 'frozen']);
});

test('SIGKILL of commit while the container is frozen: the next exec runs', async () => {
  tsrunOk(tr.root, ['run', '-d', '--network', 'none', '--name', 'bigc', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=200 2>/dev/null; touch /ready; sleep 1000']);
  const c = findContainer(ctx, 'bigc');
  const upper = path.join(c.dir, 'upper');
  const deadline = Date.now() + 120_000;
  while (!fs.existsSync(path.join(upper, 'ready')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(fs.existsSync(path.join(upper, 'ready')), 'the container wrote its 200 MB');
  let killedFrozen = false;
  for (let attempt = 0; attempt < 5 && !killedFrozen; attempt++) {
    const commit = tsrunSpawn(tr.root, ['commit', 'bigc', `bigc:${attempt}`]);
    const closed = new Promise((r) => commit.on('close', r));
    const until = Date.now() + 10_000;
    while (Date.now() < until && !freezeRequested(c.config.id, ctx)) await new Promise((r) => setTimeout(r, 2));
    killedFrozen = freezeRequested(c.config.id, ctx) === true;
    commit.kill('SIGKILL');
    await closed;
    killedFrozen &&= freezeRequested(c.config.id, ctx) === true;
  }
  assert.ok(killedFrozen, 'a commit was killed while the container was frozen');
  const exec = await tsrunAsync(['exec', 'bigc', 'echo', 'alive'], 60_000);
  assert.equal(exec.signal, null, 'exec did not hang');
  assert.equal(exec.stdout, 'alive\n', exec.stderr);
  tsrunOk(tr.root, ['rm', '-f', 'bigc']);
  // the killed commits left only temp files: the store still works
  tsrunOk(tr.root, ['image', 'prune', '-a', '-f']);
  assert.equal(tsrun(tr.root, ['images', '-q']).code, 0);
});
