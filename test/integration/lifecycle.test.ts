/**
 * Lifecycle verbs (ps, stop, kill, wait, rm, logs, inspect, export, rename,
 * top, pause/unpause, container …) through the real CLI. Containers are
 * started by a stand-in launcher (lifecycle-fake-launcher.ts) speaking the
 * runtime's protocol (state.json, exit.json, ctr.log, cgroup), so these tests
 * check the verbs independently of `run`; lifecycle-run.test.ts repeats the
 * key ones with real `run -d` containers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { TSRUN, tempRoot, tsrun, tsrunOk, tsrunSpawn, importBusybox, snapshotTree, mountsUnder, type TempRoot } from '../helpers/cli.js';
import { fakeRun, fakeCreate } from './lifecycle-fake-launcher.js';
import { cgroupExists, cgroupPids, killCgroup, removeCgroup } from '../../src/runtime/cgroups.js';
import { procStartTime, procState, sameProcessAlive } from '../../src/containers/status.js';
import { openCtx, type Ctx } from '../../src/context.js';
import { sleep, until } from '../helpers/wait.js';
import { alive } from '../helpers/proc.js';

let t: TempRoot;
let ctx: Ctx;
/** Each process with its start time: the after hook must not SIGKILL a later process that took a freed PID. */
const started: { id: string; procs: [number, number | undefined][] }[] = [];

before(() => {
  t = tempRoot('tsrun-lifecycle-');
  importBusybox(t.root, 'busybox:latest');
  ctx = openCtx(t.root);
});

after(() => {
  for (const s of started) {
    for (const [pid, start] of s.procs) {
      if (start === undefined || !sameProcessAlive(pid, start)) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    try {
      killCgroup(s.id, 'SIGKILL', openCtx(t.root));
      removeCgroup(s.id, openCtx(t.root));
    } catch {
      /* best effort */
    }
  }
  t.cleanup();
});

async function run(argv: string[], name?: string, opts: { exitRecordDelayMs?: number } = {}) {
  const r = await fakeRun(t.root, argv, { name, ...opts });
  started.push({ id: r.id, procs: [r.pid, r.monitorPid].map((p) => [p, procStartTime(p)]) });
  return r;
}



/** Bad input: non-zero exit, one line on stderr starting "tsrun: ", the store unchanged. */
function assertRefused(args: string[], code: number, match?: RegExp) {
  const before = snapshotTree(t.root);
  const r = tsrun(t.root, args);
  assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, /^tsrun: [^\n]+\n$/, `one line: ${JSON.stringify(r.stderr)}`);
  if (match) assert.match(r.stderr, match);
  assert.deepEqual(snapshotTree(t.root), before, 'the store did not change');
  return r;
}

test('ps shows running containers with docker columns; -a adds stopped ones; -q, --no-trunc, --format', async () => {
  const a = await run(['sleep', '100'], 'ps_running');
  const c = fakeCreate(t.root, ['sh', '-c', 'echo a very long command line that is cut'], { name: 'ps_created' });
  const out = tsrunOk(t.root, ['ps']);
  const lines = out.trimEnd().split('\n');
  assert.match(lines[0]!, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
  const row = lines.find((l) => l.includes('ps_running'))!;
  assert.ok(row, out);
  assert.ok(row.startsWith(a.id.slice(0, 12) + ' '), row);
  assert.match(row, /"sleep 100"/);
  assert.match(row, /(Less than a second|\d+ seconds?) ago/);
  assert.match(row, /Up (Less than a second|\d+ seconds?)/);
  assert.ok(!out.includes('ps_created'), 'created containers only with -a');

  const all = tsrunOk(t.root, ['ps', '-a']);
  const crow = all.split('\n').find((l) => l.includes('ps_created'))!;
  assert.match(crow, /"sh -c echo a very l…"/, 'command cut to 20 characters with …');
  assert.match(crow, /\bCreated\b/);
  assert.match(tsrunOk(t.root, ['ps', '-a', '--no-trunc']), /"sh -c echo a very long command line that is cut"/);
  assert.ok(tsrunOk(t.root, ['ps', '-a', '--no-trunc']).includes(c.id));

  const ids = tsrunOk(t.root, ['ps', '-a', '-q']).trim().split('\n');
  assert.ok(ids.includes(a.id.slice(0, 12)) && ids.includes(c.id.slice(0, 12)));
  assert.ok(ids.every((i) => /^[a-f0-9]{12}$/.test(i)));

  const json = tsrunOk(t.root, ['ps', '--format', 'json']).trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  const j = json.find((x) => x.Names === 'ps_running')!;
  assert.equal(j.ID, a.id.slice(0, 12));
  assert.equal(j.State, 'running');
  assert.equal(j.Image, 'busybox');
  assert.match(j.Status!, /^Up /);
  assert.match(j.CreatedAt!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);

  assert.equal(tsrunOk(t.root, ['ps', '-a', '-f', 'name=ps_created', '--format', '{{.ID}} {{.Names}} {{.State}}']).trim(), `${c.id.slice(0, 12)} ps_created created`);
  assert.equal(tsrunOk(t.root, ['ps', '-a', '-f', 'status=created', '-q']).trim(), c.id.slice(0, 12));
  assert.equal(tsrunOk(t.root, ['ps', '-l', '-q']).trim(), c.id.slice(0, 12), '-l is the newest, any state');
  assert.equal(tsrunOk(t.root, ['container', 'ls', '-a', '-q']), tsrunOk(t.root, ['ps', '-a', '-q']));
  assertRefused(['ps', '-f', 'color=blue'], 1);
  tsrunOk(t.root, ['rm', '-f', 'ps_running', 'ps_created']);
});

test('stop: a container that ignores TERM is killed after -t 1; stopping a stopped one is a no-op', async () => {
  // the trap notes when TERM came (the file's mtime) and carries on
  const term = path.join(t.scratch, 'stop_ignores.term');
  const a = await run(['sh', '-c', `trap 'touch ${term}' TERM; while :; do sleep 0.1; done`], 'stop_ignores');
  const t0 = Date.now();
  const out = tsrunOk(t.root, ['stop', '-t', '1', 'stop_ignores']);
  const took = Date.now() - t0;
  assert.equal(out, 'stop_ignores\n');
  assert.ok(took >= 1000, `took ${took} ms`);
  assert.ok(!alive(a.pid));
  // killed one second after TERM, not after docker's default 10 s: timed from TERM's arrival (the trap
  // runs after it, so this reads short, never long), not from the start of a tsrun a busy machine slows
  assert.ok(fs.existsSync(term), 'TERM came first');
  const graceMs = Date.parse(JSON.parse(tsrunOk(t.root, ['inspect', 'stop_ignores']))[0].State.FinishedAt) - fs.statSync(term).mtimeMs;
  assert.ok(graceMs < 9000, `killed ${graceMs} ms after TERM`);
  assert.equal(cgroupPids(a.id, ctx).length, 0);
  const ins = JSON.parse(tsrunOk(t.root, ['inspect', 'stop_ignores']))[0];
  assert.equal(ins.State.Status, 'exited');
  assert.equal(ins.State.ExitCode, 137);
  assert.ok(!cgroupExists(a.id, ctx), 'the cgroup of an exited container is removed');
  assert.equal(tsrunOk(t.root, ['stop', 'stop_ignores']), 'stop_ignores\n');

  const b = await run(['sleep', '100'], 'stop_polite');
  const t1 = Date.now();
  tsrunOk(t.root, ['stop', b.id.slice(0, 12)]);
  // at once: well before the 10 s timeout, and by TERM (143), not by the KILL after it
  assert.ok(Date.now() - t1 < 10_000, 'a process that obeys TERM stops at once');
  assert.match(tsrunOk(t.root, ['ps', '-a', '-f', 'name=stop_polite']), /Exited \(143\)/);
  assertRefused(['stop', '-s', 'NOPE', 'stop_polite'], 1, /invalid signal/);
});

test('kill -s USR1 reaches a trap in process 1; kill (SIGKILL) returns once the container exited; kill of a stopped container is a CONFLICT', async () => {
  // its monitor records the exit 2 s after the process ended, as a real one flushing a slow attach client
  // does: a kill that answered at the signal would leave it running for inspect below
  await run(['sh', '-c', 'trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.1; done'], 'kill_usr1', { exitRecordDelayMs: 2000 });
  await until('ready', () => tsrun(t.root, ['logs', 'kill_usr1']).stdout.includes('ready'), 30_000);
  assert.equal(tsrunOk(t.root, ['kill', '-s', 'USR1', 'kill_usr1']), 'kill_usr1\n');
  await until('the trap to run', () => tsrun(t.root, ['logs', 'kill_usr1']).stdout.includes('got-usr1'), 30_000);
  assert.match(tsrunOk(t.root, ['ps']), /kill_usr1/, 'still running after USR1');
  tsrunOk(t.root, ['kill', 'kill_usr1']);
  // as docker's daemon, kill (SIGKILL) answers once the container has exited: no wait needed here
  assert.equal(tsrunOk(t.root, ['inspect', '-f', '{{.State.Running}} {{.State.ExitCode}}', 'kill_usr1']), 'false 137\n');
  assert.match(tsrunOk(t.root, ['ps', '-a', '-f', 'name=kill_usr1']), /Exited \(137\)/);
  assertRefused(['kill', 'kill_usr1'], 1, /not running.*\(start it first/);
  assertRefused(['kill', '-s', 'BOGUS', 'kill_usr1'], 1, /invalid signal/);
});

test('wait prints the exit code and exits 0', async () => {
  // the container exits when told to (a file), once wait is surely waiting: its answer is then timed
  // from the exit, not from a tsrun start that a busy machine slows
  const go = path.join(t.scratch, 'wait_three.go');
  await run(['sh', '-c', `while [ ! -e ${go} ]; do sleep 0.05; done; exit 3`], 'wait_three');
  const w = tsrunSpawn(t.root, ['wait', 'wait_three']);
  let stdout = '';
  let stderr = '';
  w.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  w.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = new Promise<number | null>((r) => w.once('close', (c) => r(c)));
  await until('wait to watch the container dir (inotify)', () => watchesInotify(w.pid!), 60_000);
  const t0 = Date.now();
  fs.writeFileSync(go, '');
  assert.equal(await code, 0, stderr);
  assert.equal(stdout, '3\n');
  assert.ok(Date.now() - t0 < 30_000, `wait answered ${Date.now() - t0} ms after the exit was asked for`);
  assert.equal(tsrunOk(t.root, ['wait', 'wait_three']), '3\n', 'an exited container answers at once');
});

/** Whether pid holds an inotify instance (wait's fs.watch of the container dir): it is waiting. */
function watchesInotify(pid: number): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:inotify';
      } catch {
        return false;
      }
    });
  } catch {
    return false; // not started yet, or gone
  }
}

test('rm refuses a running container; rm -f removes it with its cgroup, processes and dir', async () => {
  const a = await run(['sleep', '100'], 'rm_running');
  assertRefused(['rm', 'rm_running'], 1, /You cannot remove a running container [0-9a-f]{64}\. Stop the container before attempting removal or force remove/);
  assert.equal(tsrunOk(t.root, ['rm', '-f', 'rm_running']), 'rm_running\n');
  await until('process gone', () => !alive(a.pid), 30_000);
  assert.ok(!cgroupExists(a.id, ctx));
  assert.ok(!fs.existsSync(path.join(t.root, 'containers', a.id)));
  assert.ok(!tsrunOk(t.root, ['ps', '-a']).includes('rm_running'));
  assert.deepEqual(mountsUnder(t.root), []);
  assertRefused(['rm', 'rm_running'], 1, /No such container/);
});

test('rm removes mounts left below a container dir (a tsrun killed mid-export) and sweeps dead creates', async () => {
  const c = fakeCreate(t.root, ['true'], { name: 'rm_mounted' });
  const mnt = path.join(c.dir, '.export-stale');
  fs.mkdirSync(mnt);
  assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', mnt]).status, 0);
  const dead = path.join(t.root, 'containers', 'f'.repeat(64));
  fs.mkdirSync(path.join(dead, 'upper'), { recursive: true });
  const old = new Date(Date.now() - 3600_000);
  fs.utimesSync(dead, old, old);
  tsrunOk(t.root, ['rm', 'rm_mounted']);
  assert.deepEqual(mountsUnder(t.root), []);
  assert.ok(!fs.existsSync(c.dir));
  assert.ok(!fs.existsSync(dead), 'a dir without config.json is swept');
  assert.deepEqual(fs.readdirSync(path.join(t.root, 'containers')).filter((n) => n.startsWith('.trash')), []);
});

test('logs: both streams, --tail, -t, -f until exit', async () => {
  // the last line waits for a file the test makes once logs -f follows (not for a time the checks may outlast)
  const go = path.join(t.scratch, 'logs_c.go');
  await run(['sh', '-c', `for i in 1 2 3 4; do echo out$i; done; echo err1 >&2; while [ ! -e ${go} ]; do sleep 0.05; done; echo late`], 'logs_c');
  await until('first lines', () => tsrun(t.root, ['logs', 'logs_c']).stdout.includes('out4') && tsrun(t.root, ['logs', 'logs_c']).stderr.includes('err1'), 30_000);
  const r = tsrun(t.root, ['logs', 'logs_c']);
  assert.equal(r.stdout, 'out1\nout2\nout3\nout4\n');
  assert.equal(r.stderr, 'err1\n');
  const tail = tsrun(t.root, ['logs', '--tail', '2', 'logs_c']);
  assert.deepEqual([tail.stdout, tail.stderr], ['out4\n', 'err1\n'], 'the last 2 lines over both streams');
  assert.match(tsrunOk(t.root, ['logs', '-t', '--tail', '2', 'logs_c']), /^\d{4}-\d\d-\d\dT[\d:.]+Z out4\n$/);
  const f = tsrunSpawn(t.root, ['logs', '-f', 'logs_c']);
  let followed = '';
  f.stdout.on('data', (d: Buffer) => (followed += d.toString()));
  f.stderr.resume();
  const fcode = new Promise<number | null>((r) => f.once('close', (c) => r(c)));
  await until('logs -f to print what is there', () => followed.includes('out4'), 30_000);
  fs.writeFileSync(go, '');
  assert.equal(await fcode, 0);
  assert.equal(followed, 'out1\nout2\nout3\nout4\nlate\n', '-f follows until the container exits');
  assertRefused(['logs', '--tail', 'x', 'logs_c'], 1);
});

test('inspect: docker shape for containers; unknown names exit 1', async () => {
  const a = await run(['sleep', '100'], 'inspect_me');
  const [ins] = JSON.parse(tsrunOk(t.root, ['inspect', 'inspect_me']));
  assert.equal(ins.Id, a.id);
  assert.equal(ins.Name, '/inspect_me');
  assert.equal(ins.Path, 'sleep');
  assert.deepEqual(ins.Args, ['100']);
  assert.equal(ins.State.Status, 'running');
  assert.equal(ins.State.Running, true);
  assert.equal(ins.State.Pid, a.pid);
  assert.match(ins.Image, /^sha256:[a-f0-9]{64}$/);
  assert.equal(ins.GraphDriver.Name, 'overlay');
  for (const k of ['LowerDir', 'UpperDir', 'WorkDir', 'MergedDir']) assert.equal(typeof ins.GraphDriver.Data[k], 'string');
  for (const k of ['Hostname', 'User', 'Env', 'Cmd', 'Image', 'WorkingDir', 'Entrypoint', 'Labels', 'Tty', 'OpenStdin', 'StopSignal']) assert.ok(k in ins.Config, k);
  assert.ok('HostConfig' in ins && Array.isArray(ins.Mounts));
  assert.equal(tsrunOk(t.root, ['inspect', '-f', '{{.State.Status}} {{.Name}}', 'inspect_me']), 'running /inspect_me\n');
  assert.equal(JSON.parse(tsrunOk(t.root, ['container', 'inspect', a.id.slice(0, 8)]))[0].Id, a.id);
  const r = assertRefused(['inspect', 'no_such_thing'], 1, /No such object: no_such_thing/);
  assert.equal(r.stdout.trim(), '[]');
  tsrunOk(t.root, ['rm', '-f', 'inspect_me']);
});

test('export: the merged rootfs with the container changes, whiteouts applied, nothing left mounted', async () => {
  const c = fakeCreate(t.root, ['true'], { name: 'export_me' });
  fs.mkdirSync(path.join(c.dir, 'upper', 'etc'));
  fs.writeFileSync(path.join(c.dir, 'upper', 'etc', 'changed-in-container'), 'hello\n');
  fs.symlinkSync('/bin/busybox', path.join(c.dir, 'upper', 'etc', 'a-link'));
  // a whiteout (char 0/0) hides /bin/true of the image
  assert.equal(spawnSync('mknod', [path.join(c.dir, 'upper', 'bin-true-whiteout'), 'c', '0', '0']).status, 0);
  fs.mkdirSync(path.join(c.dir, 'upper', 'bin'));
  fs.renameSync(path.join(c.dir, 'upper', 'bin-true-whiteout'), path.join(c.dir, 'upper', 'bin', 'true'));
  const out = path.join(t.scratch, 'export.tar');
  tsrunOk(t.root, ['export', '-o', out, 'export_me']);
  const list = spawnSync('tar', ['-tvf', out], { encoding: 'utf8' }).stdout;
  assert.match(list, / etc\/changed-in-container\n/);
  assert.match(list, / etc\/a-link -> \/bin\/busybox\n/);
  assert.match(list, / bin\/busybox\n/);
  assert.doesNotMatch(list, / bin\/true( |\n)/, 'a whited-out file is not exported');
  const content = spawnSync('tar', ['-xOf', out, 'etc/changed-in-container'], { encoding: 'utf8' }).stdout;
  assert.equal(content, 'hello\n');
  const viaStdout = spawnSync(process.execPath, [TSRUN, '--root', t.root, 'export', 'export_me'], { maxBuffer: 1 << 28 });
  assert.equal(viaStdout.status, 0);
  assert.ok(viaStdout.stdout.equals(fs.readFileSync(out)), 'the same archive on stdout as with -o');
  assert.deepEqual(mountsUnder(t.root), []);
  assert.deepEqual(fs.readdirSync(c.dir).filter((n) => n.startsWith('.export')), []);
  assertRefused(['export', '-o', path.join(t.scratch, 'x.tar'), 'nope'], 1);
  assert.ok(!fs.existsSync(path.join(t.scratch, 'x.tar')));
});

test('rename: the new name works, the old one is gone, a taken name is a CONFLICT', async () => {
  fakeCreate(t.root, ['true'], { name: 'rename_old' });
  fakeCreate(t.root, ['true'], { name: 'rename_taken' });
  tsrunOk(t.root, ['rename', 'rename_old', 'rename_new']);
  assert.match(tsrunOk(t.root, ['ps', '-a', '--format', '{{.Names}}']), /^rename_new$/m);
  assertRefused(['rename', 'rename_old', 'x2'], 1, /No such container/);
  assertRefused(['rename', 'rename_new', 'rename_taken'], 1, /already in use/);
  assertRefused(['rename', 'rename_new', 'bad name!'], 1, /invalid container name/);
  tsrunOk(t.root, ['rm', 'rename_new', 'rename_taken']);
});

test('top lists the processes of the container', async () => {
  const a = await run(['sh', '-c', 'sleep 101 & sleep 102; wait'], 'top_me');
  await until('both sleeps', () => cgroupPids(a.id, ctx).length >= 3, 30_000);
  const out = tsrunOk(t.root, ['top', 'top_me']);
  const lines = out.trimEnd().split('\n');
  assert.match(lines[0]!, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
  assert.ok(lines.some((l) => l.endsWith('sleep 101')) && lines.some((l) => l.endsWith('sleep 102')), out);
  assert.match(tsrunOk(t.root, ['top', 'top_me', '-o', 'pid,comm']), /PID COMMAND/);
  tsrunOk(t.root, ['rm', '-f', 'top_me']);
  assertRefused(['top', 'top_me'], 1);
});

test('pause freezes every process and ps says Paused; unpause thaws; stop works on a paused container', async () => {
  const a = await run(['sh', '-c', 'while :; do sleep 0.05; done'], 'pause_me');
  assert.equal(tsrunOk(t.root, ['pause', 'pause_me']), 'pause_me\n');
  assert.match(tsrunOk(t.root, ['ps', '-f', 'name=pause_me']), /Up .* \(Paused\)/);
  assert.equal(JSON.parse(tsrunOk(t.root, ['inspect', 'pause_me']))[0].State.Paused, true);
  const frozen = cgroupPids(a.id, ctx);
  await sleep(200);
  assert.deepEqual(cgroupPids(a.id, ctx), frozen, 'no new sleep is forked while frozen');
  assert.notEqual(procState(a.pid), 'R');
  assertRefused(['pause', 'pause_me'], 1, /already paused/);
  tsrunOk(t.root, ['unpause', 'pause_me']);
  await until('a new sleep', () => cgroupPids(a.id, ctx).join() !== frozen.join(), 30_000);
  assertRefused(['unpause', 'pause_me'], 1, /not paused/);
  tsrunOk(t.root, ['pause', 'pause_me']);
  tsrunOk(t.root, ['stop', '-t', '1', 'pause_me']);
  assert.match(tsrunOk(t.root, ['ps', '-a', '-f', 'name=pause_me']), /Exited/);
  assert.ok(!cgroupExists(a.id, ctx));
});

test('a container whose monitor died is shown exited (137) and rm -f cleans it', async () => {
  const a = await run(['sleep', '100'], 'lost_me');
  process.kill(a.monitorPid, 'SIGKILL');
  process.kill(a.pid, 'SIGKILL');
  await until('processes gone', () => !alive(a.pid) && !alive(a.monitorPid), 30_000);
  const row = tsrunOk(t.root, ['ps', '-a', '-f', 'name=lost_me']);
  assert.match(row, /Exited \(137\)/);
  assert.equal(JSON.parse(tsrunOk(t.root, ['inspect', 'lost_me']))[0].State.Error, 'monitor lost');
  tsrunOk(t.root, ['rm', '-f', 'lost_me']);
  assert.ok(!cgroupExists(a.id, ctx));
  assert.ok(!fs.existsSync(a.dir ?? ''));
});

test('wait wakes up when the container exits (not at a fixed poll interval)', async () => {
  await run(['sleep', '100'], 'wait_kill');
  const w = tsrunSpawn(t.root, ['wait', 'wait_kill']);
  let out = '';
  w.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((r) => w.once('exit', (c) => r(c)));
  await sleep(300);
  tsrunOk(t.root, ['kill', 'wait_kill']);
  assert.equal(await done, 0);
  assert.equal(out, '137\n');
});

test('every verb on an unknown container is one line, exit 1 (docker\'s), store unchanged; rm -f of one is not an error', () => {
  for (const args of [
    ['stop', 'ghost'],
    ['kill', 'ghost'],
    ['restart', 'ghost'],
    ['wait', 'ghost'],
    ['rm', 'ghost'],
    ['logs', 'ghost'],
    ['export', '-o', '/dev/null', 'ghost'],
    ['rename', 'ghost', 'other'],
    ['top', 'ghost'],
    ['pause', 'ghost'],
    ['unpause', 'ghost'],
    ['container', 'stop', 'ghost'],
  ]) {
    assertRefused(args, 1, /^tsrun: No such container: ghost/);
  }
  assert.deepEqual(tsrun(t.root, ['rm', '-f', 'ghost']), { code: 0, stdout: '', stderr: '', signal: null });
  assertRefused(['container', 'frobnicate'], 1, /unknown container subcommand/);
});

test('a record whose tsrun died before it saved the PID gets it from the monitor: refresh fills it in', async () => {
  // what a tsrun killed between the launch and recording the PID leaves: running, monitor known, no PID
  const id = tsrunOk(t.root, ['create', '--name', 'nopid', 'busybox', 'sleep', '100']).trim();
  const fakeMonitor = spawn('sh', ['-c', 'sleep 100 & wait'], { stdio: 'ignore' });
  try {
    let child = '';
    await until('the fake monitor\'s child', () => !!(child = spawnSync('pgrep', ['-P', String(fakeMonitor.pid)]).stdout.toString().trim()), 30_000);
    const stat = fs.readFileSync(`/proc/${fakeMonitor.pid}/stat`, 'utf8');
    const monitorStart = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    fs.writeFileSync(path.join(t.root, 'containers', id, 'state.json'), JSON.stringify({ status: 'running', monitorPid: fakeMonitor.pid, monitorStart, startedAt: new Date().toISOString() }));
    const st = JSON.parse(tsrunOk(t.root, ['inspect', 'nopid']))[0].State;
    assert.equal(st.Running, true);
    assert.equal(st.Pid, Number(child), 'the PID of the monitor\'s child');
    assert.equal(JSON.parse(fs.readFileSync(path.join(t.root, 'containers', id, 'state.json'), 'utf8')).pid, Number(child), 'and it is saved');
  } finally {
    spawnSync('pkill', ['-KILL', '-P', String(fakeMonitor.pid)]); // the sleep first: orphaned it would be out of reach
    fakeMonitor.kill('SIGKILL');
    tsrun(t.root, ['rm', '-f', 'nopid']);
  }
});
