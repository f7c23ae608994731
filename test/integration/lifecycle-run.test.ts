/**
 * Lifecycle verbs on real containers started by `tsrun run` (tsrun-init,
 * namespaces, overlay): stop, kill, wait, logs, export of a change made
 * inside, top, pause, restart, and the truth after a foreground `tsrun run`
 * is SIGKILLed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempRoot, tsrun, tsrunOk, tsrunSpawn, importBusybox, mountsUnder, snapshotTree, type TempRoot } from '../helpers/cli.js';
import { cgroupExists, cgroupPids, killCgroup, removeCgroup } from '../../src/runtime/cgroups.js';
import { procState } from '../../src/containers/status.js';
import { openCtx, type Ctx } from '../../src/context.js';
import { sleep, until } from '../helpers/wait.js';
import { alive } from '../helpers/proc.js';

let t: TempRoot;
let ctx: Ctx;
const ids: string[] = [];

before(() => {
  t = tempRoot('tsrun-lifecycle-run-');
  importBusybox(t.root);
  ctx = openCtx(t.root);
});

after(() => {
  for (const id of ids) {
    tsrun(t.root, ['rm', '-f', id]);
    try {
      killCgroup(id, 'SIGKILL', ctx);
      removeCgroup(id, ctx);
    } catch {
      /* best effort */
    }
  }
  t.cleanup();
});



function runD(args: string[]): string {
  const id = tsrunOk(t.root, ['run', '-d', ...args]).trim();
  assert.match(id, /^[a-f0-9]{64}$/);
  ids.push(id);
  return id;
}

function inspect(ref: string) {
  return JSON.parse(tsrunOk(t.root, ['inspect', ref]))[0];
}

test('stop kills a container ignoring TERM after -t 1; the cgroup goes with it', async () => {
  const id = runD(['--name', 'r_stop', 'busybox', 'sh', '-c', "trap '' TERM; while :; do sleep 0.1; done"]);
  const pid = inspect(id).State.Pid as number;
  assert.ok(alive(pid));
  const t0 = Date.now();
  assert.equal(tsrunOk(t.root, ['stop', '-t', '1', 'r_stop']), 'r_stop\n');
  assert.ok(Date.now() - t0 >= 1000);
  assert.ok(!alive(pid));
  assert.equal(inspect(id).State.ExitCode, 137);
  assert.ok(!cgroupExists(id, ctx));
});

/** cgroup path per hierarchy ("pids", "memory", "" for v2 …) from /proc/PID/cgroup; name= hierarchies left out. */
function cgroupsOf(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')) {
    const [, ctrl = '', p = ''] = line.split(':');
    if (!ctrl.startsWith('name=')) out.set(ctrl, p);
  }
  return out;
}

test('the container process, what it forks and what exec starts are in its cgroup in every hierarchy; the monitor is not', async () => {
  const id = runD(['busybox', 'sh', '-c', 'sleep 300 & sleep 300']);
  const name = `tsrun-${id.slice(0, 12)}`;
  const c = inspect(id);
  await until('two sleeps', () => cgroupPids(id, ctx).length >= 2, 30_000);
  tsrunOk(t.root, ['exec', '-d', id, 'sleep', '301']);
  await until('the exec', () => cgroupPids(id, ctx).length >= 3, 30_000);
  const pids = cgroupPids(id, ctx);
  assert.ok(pids.includes(c.State.Pid), 'the container process is listed in its cgroup');
  for (const pid of pids) {
    const where = cgroupsOf(pid);
    assert.ok(where.size > 0);
    for (const [ctrl, p] of where) {
      if (ctrl === '' && where.size > 1) continue; // the empty v2 hierarchy of a hybrid host
      assert.equal(path.basename(p), name, `pid ${pid} in ${ctrl || 'v2'}: ${p}`);
    }
  }
  const monitor = JSON.parse(fs.readFileSync(path.join(t.root, 'containers', id, 'state.json'), 'utf8')).monitorPid;
  assert.ok(!pids.includes(monitor), 'the monitor stays outside the container cgroup');
  tsrunOk(t.root, ['rm', '-f', id]);
  assert.ok(!cgroupExists(id, ctx));
});

test('kill -s USR1 reaches the trap; wait prints the exit code', async () => {
  runD(['--name', 'r_kill', 'busybox', 'sh', '-c', 'trap "echo got-usr1; exit 7" USR1; echo ready; while :; do sleep 0.1; done']);
  await until('ready', () => tsrun(t.root, ['logs', 'r_kill']).stdout.includes('ready'), 30_000);
  tsrunOk(t.root, ['kill', '-s', 'SIGUSR1', 'r_kill']);
  assert.equal(tsrunOk(t.root, ['wait', 'r_kill']), '7\n');
  assert.equal(tsrunOk(t.root, ['logs', 'r_kill']), 'ready\ngot-usr1\n');
  assert.match(tsrunOk(t.root, ['ps', '-a', '-f', 'name=r_kill']), /Exited \(7\)/);
});

test('logs -f follows a running container to its end; -t adds timestamps', async () => {
  runD(['--name', 'r_logs', 'busybox', 'sh', '-c', 'echo one; sleep 1; echo two >&2; echo three']);
  const r = tsrun(t.root, ['logs', '-f', 'r_logs']);
  assert.equal(r.stdout, 'one\nthree\n');
  assert.equal(r.stderr, 'two\n');
  // stdout and stderr come through two pipes, so their relative order is not fixed: check each line
  const ts = tsrun(t.root, ['logs', '-t', 'r_logs']);
  assert.match(ts.stdout, /^\d{4}-\d\d-\d\dT\S+Z one\n\d{4}-\d\d-\d\dT\S+Z three\n$/);
  assert.match(ts.stderr, /^\d{4}-\d\d-\d\dT\S+Z two\n$/);
});

test('export of a running container holds a change made inside it', async () => {
  // (left running: a container that ended while a later test compares store snapshots would change them)
  runD(['--name', 'r_export', 'busybox', 'sh', '-c', 'echo inside > /made-inside; rm /bin/true; sleep 1000']);
  const dir = path.join(t.root, 'containers', inspect('r_export').Id);
  await until('the change', () => fs.existsSync(path.join(dir, 'upper', 'made-inside')), 30_000);
  const out = path.join(t.scratch, 'r_export.tar');
  tsrunOk(t.root, ['export', '-o', out, 'r_export']);
  const names = spawnSync('tar', ['-tf', out], { encoding: 'utf8' }).stdout.split('\n');
  assert.ok(names.includes('made-inside') && names.includes('bin/busybox'));
  assert.ok(!names.includes('bin/true'), 'a file removed inside is not exported');
  assert.equal(spawnSync('tar', ['-xOf', out, 'made-inside'], { encoding: 'utf8' }).stdout, 'inside\n');
  assert.deepEqual(mountsUnder(t.root), []);
});

test('top shows the sleep; pause freezes, ps says Paused, unpause thaws', async () => {
  const id = runD(['--name', 'r_top', 'busybox', 'sleep', '100']);
  assert.match(tsrunOk(t.root, ['top', 'r_top']), /sleep 100\n/);
  // whatever the ps options, only the container's processes (docker filters ps's rows by its PID column)
  const pid1 = inspect(id).State.Pid as number;
  for (const psArgs of [['aux'], ['-ef'], ['axf'], ['-o', 'pid,comm']]) {
    const rows = tsrunOk(t.root, ['top', 'r_top', ...psArgs]).trimEnd().split('\n');
    assert.match(rows[0]!, /PID/, psArgs.join(' '));
    assert.equal(rows.length, 2, `top ${psArgs.join(' ')}: only the sleep:\n${rows.join('\n')}`);
    assert.match(rows[1]!, new RegExp(`\\b${pid1}\\b.*sleep`), psArgs.join(' '));
  }
  const noPid = tsrun(t.root, ['top', 'r_top', '-o', 'comm']);
  assert.equal(noPid.code, 1);
  assert.match(noPid.stderr, /^tsrun: Couldn't find PID field in ps output/);
  tsrunOk(t.root, ['pause', 'r_top']);
  assert.match(tsrunOk(t.root, ['ps', '-f', 'name=r_top']), /\(Paused\)/);
  const pid = inspect(id).State.Pid as number;
  assert.notEqual(procState(pid), 'R');
  tsrunOk(t.root, ['unpause', 'r_top']);
  assert.doesNotMatch(tsrunOk(t.root, ['ps', '-f', 'name=r_top']), /Paused/);
  tsrunOk(t.root, ['rm', '-f', 'r_top']);
  assert.ok(!alive(pid) && !cgroupExists(id, ctx));
});

test('restart runs the container again', async () => {
  const id = runD(['--name', 'r_restart', 'busybox', 'sh', '-c', 'echo start; sleep 1000']);
  const pid1 = inspect(id).State.Pid as number;
  tsrunOk(t.root, ['restart', '-t', '0', 'r_restart']);
  const st = inspect(id).State;
  assert.equal(st.Status, 'running');
  assert.notEqual(st.Pid, pid1);
  assert.ok(!alive(pid1));
  await until('second start logged', () => tsrun(t.root, ['logs', 'r_restart']).stdout === 'start\nstart\n', 30_000);
});

test('rm refuses a running container (store unchanged); rm -f leaves no process, cgroup, mount or dir', async () => {
  const id = runD(['--name', 'r_rm', 'busybox', 'sleep', '100']);
  const pid = inspect(id).State.Pid as number;
  const before = snapshotTree(t.root);
  const r = tsrun(t.root, ['rm', 'r_rm']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^tsrun: You cannot remove a running container [0-9a-f]{64}\. Stop the container before attempting removal or force remove\n$/);
  assert.deepEqual(snapshotTree(t.root), before);
  tsrunOk(t.root, ['rm', '-f', 'r_rm']);
  assert.ok(!alive(pid));
  assert.ok(!cgroupExists(id, ctx));
  assert.ok(!fs.existsSync(path.join(t.root, 'containers', id)));
  assert.deepEqual(mountsUnder(t.root), []);
});

test('SIGKILL of a foreground `tsrun run`: ps tells the truth and rm -f cleans everything', async () => {
  const child = tsrunSpawn(t.root, ['run', '--name', 'r_fg', 'busybox', 'sleep', '100']);
  const exited = new Promise((r) => child.once('exit', r));
  await until('the container to run', () => /r_fg/.test(tsrun(t.root, ['ps', '--format', '{{.Names}}']).stdout), 60_000);
  const id = inspect('r_fg').Id as string;
  ids.push(id);
  const pid = inspect('r_fg').State.Pid as number;
  child.kill('SIGKILL');
  await exited;
  // either the monitor kept it running (then ps says Up) or it went down with tsrun (then Exited): never
  // a lie. It may still be going down as we look: a reading counts when the process was alive, or
  // gone, all through it
  let seen = '';
  await until('ps and inspect to tell the truth', () => {
    const was = alive(pid);
    const row = tsrunOk(t.root, ['ps', '-a', '-f', 'name=r_fg']);
    const running = inspect('r_fg').State.Running as boolean;
    if (alive(pid) !== was) return false;
    seen = `alive ${was}, inspect Running ${running}, ps: ${row}`;
    return running === was && (was ? /Up /.test(row) : /Exited \(\d+\)/.test(row));
  }, 30_000).catch((err: Error) => assert.fail(`${err.message}: ${seen}`));
  tsrunOk(t.root, ['rm', '-f', 'r_fg']);
  await until('process gone', () => !alive(pid), 30_000);
  assert.ok(!cgroupExists(id, ctx));
  assert.deepEqual(cgroupPids(id, ctx), []);
  assert.deepEqual(mountsUnder(t.root), []);
  assert.ok(!fs.existsSync(path.join(t.root, 'containers', id)));
});

test('SIGKILL of `tsrun run` at any moment of its start: every record tells the truth, rm -f leaves nothing', async () => {
  // the launcher is spawned before the container exists, gets its plan in three writes, and the
  // container process is forked before the plan is whole: kill tsrun all along that way
  const names: string[] = [];
  for (let i = 0; i < 16; i++) {
    const name = `k_${i}`;
    names.push(name);
    const child = tsrunSpawn(t.root, ['run', '--rm', '--name', name, 'busybox', 'sleep', '100']);
    const exited = new Promise((r) => child.once('exit', r));
    await sleep(i * 6); // 0 to 90 ms: from before the bundle is loaded to a running container
    child.kill('SIGKILL');
    await exited;
  }
  const rows = tsrunOk(t.root, ['ps', '-a', '--format', 'json']).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Names: string });
  for (const c of rows) {
    if (!names.includes(c.Names)) continue;
    // launchers that lost tsrun before the plan was whole are giving up meanwhile: a reading counts when
    // the record's PID did not change and its process was alive, or gone, all through it (a record
    // removed meanwhile tells nothing wrong)
    const record = () => {
      const r = tsrun(t.root, ['inspect', c.Names]);
      if (r.code !== 0 && /No such object/.test(r.stderr)) return undefined;
      if (r.code !== 0) throw new Error(`inspect ${c.Names}: ${r.stderr}`);
      return JSON.parse(r.stdout)[0] as { Id: string; State: { Pid: number; Running: boolean; Status: string } };
    };
    const first = record();
    if (first) ids.push(first.Id);
    let seen = '';
    await until(`${c.Names} to tell the truth`, () => {
      const st = record()?.State;
      if (!st) return true;
      const was = !!st.Pid && alive(st.Pid);
      const again = record()?.State;
      if (!again) return true;
      if (again.Pid !== st.Pid || again.Running !== st.Running || (!!st.Pid && alive(st.Pid)) !== was) return false;
      seen = `${c.Names} says ${st.Status} (pid ${st.Pid}); its process ${was ? 'lives' : 'is gone'}`;
      return st.Running === was;
    }, 30_000).catch((err: Error) => assert.fail(`${err.message}: ${seen}`));
  }
  const ours = tsrunOk(t.root, ['ps', '-aq']).trim().split('\n').filter(Boolean);
  if (ours.length) tsrunOk(t.root, ['rm', '-f', ...ours]);
  await until('no container process left', () => !processesOfRoot(), 30_000);
  assert.deepEqual(tsrunOk(t.root, ['ps', '-aq']).trim(), '');
  assert.deepEqual(mountsUnder(t.root), []);
  for (const id of ids) assert.ok(!cgroupExists(id, ctx), `cgroup of ${id.slice(0, 12)} removed`);
});

/** Whether any process has its root inside this test's store (a container of ours still alive). */
function processesOfRoot(): boolean {
  const real = fs.realpathSync(t.root);
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.readlinkSync(`/proc/${p}/root`).startsWith(real)) return true;
    } catch {
      /* gone, or not ours to read */
    }
  }
  return false;
}
