/**
 * --restart through the real CLI: each policy, RestartCount, docker's back-off
 * (timed from inside the containers with /proc/uptime), the manual-stop rules
 * (stop and kill do not restart; unless-stopped remembers a stop), the
 * "restarting" state in ps and inspect, rm of a restarting container, and bad
 * input. The reboot (tsrun-restart.service) is restart-boot.test.ts.
 * That no restart happens is checked once no process that could make one is
 * left (the container's monitor and restart watcher), never after a fixed wait.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tsrun, tsrunOk, useBusyboxRoot, snapshotTree } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { containerAgentsGone } from '../helpers/proc.js';
import { sameProcessAlive } from '../../src/containers/status.js';

// registered before the root's cleanup: after hooks run in order, and this needs the store
after(() => {
  // rm -f cancels pending restarts (their watchers exit) before the temp root goes
  if (names.length) tsrun(root().root, ['rm', '-f', ...names]);
});

const root = useBusyboxRoot();
const names: string[] = [];

function run(name: string, args: string[], cmd: string): string {
  names.push(name);
  const dir = path.join(root().scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  return tsrunOk(root().root, ['run', '-d', '--network', 'none', '--name', name, '-v', `${dir}:/out`, ...args, 'busybox', 'sh', '-c', cmd]).trim();
}

/** Host uptime (s) at each start of the container, as it wrote them to /out/starts. */
function starts(name: string): number[] {
  const f = path.join(root().scratch, name, 'starts');
  if (!fs.existsSync(f)) return [];
  return fs
    .readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(l.split(' ')[0]));
}

const RECORD_START = 'cat /proc/uptime >> /out/starts';

function inspect(name: string, tmpl: string): string {
  return tsrunOk(root().root, ['inspect', '-f', tmpl, name]).trim();
}

const status = (name: string) => inspect(name, '{{.State.Status}}');
const restartCount = (name: string) => Number(inspect(name, '{{.RestartCount}}'));

const idOf = (name: string) => inspect(name, '{{.Id}}');

/**
 * Waits until the container is exited and no process is left that could restart it (its monitor,
 * which becomes the policy's watcher in place, and a watcher waiting out a back-off): from then on
 * the count of its runs is final.
 */
async function settled(name: string, ms = 60_000): Promise<void> {
  const id = idOf(name);
  await until(`${name} to stay exited`, () => status(name) === 'exited' && containerAgentsGone(root().root, id), ms);
}

test('on-failure:2 restarts a failing container twice, counted in RestartCount, and shows the policy in inspect', async () => {
  run('onfail', ['--restart', 'on-failure:2'], `${RECORD_START}; exit 3`);
  await until('three runs', () => starts('onfail').length === 3 && status('onfail') === 'exited', 60_000);
  await settled('onfail');
  assert.equal(starts('onfail').length, 3, 'no fourth run');
  assert.equal(restartCount('onfail'), 2);
  assert.equal(inspect('onfail', '{{.State.ExitCode}}'), '3');
  assert.equal(inspect('onfail', '{{json .HostConfig.RestartPolicy}}'), '{"MaximumRetryCount":2,"Name":"on-failure"}');
});

test('on-failure does not restart a container that exits 0; no policy shows as "no"', async () => {
  run('onfail-ok', ['--restart', 'on-failure'], `${RECORD_START}; exit 0`);
  await settled('onfail-ok');
  assert.equal(starts('onfail-ok').length, 1);
  assert.equal(restartCount('onfail-ok'), 0);
  run('nopolicy', [], `${RECORD_START}; exit 1`);
  await settled('nopolicy');
  assert.equal(starts('nopolicy').length, 1);
  assert.equal(inspect('nopolicy', '{{.HostConfig.RestartPolicy.Name}}'), 'no');
});

test('always restarts a container that exits 0, with docker\'s back-off doubling from 100 ms; ps and inspect show it restarting', async (t) => {
  run('backoff', ['--restart', 'always'], `${RECORD_START}; exit 0`);
  let psLine = '';
  let inspected = '';
  await until(
    'eight runs',
    () => {
      const line = tsrunOk(root().root, ['ps', '--filter', 'name=^backoff$', '--format', '{{.State}}|{{.Status}}']).trim();
      if (line.startsWith('restarting|')) psLine = line;
      const state = inspect('backoff', '{{.State.Status}} {{.State.Restarting}} {{.State.Running}}');
      if (state.startsWith('restarting')) inspected = state;
      return starts('backoff').length >= 8;
    },
    120_000,
  );
  tsrunOk(root().root, ['stop', 'backoff']);
  const s = starts('backoff');
  const gaps = s.slice(1, 8).map((v, i) => Math.round((v - s[i]!) * 1000));
  t.diagnostic(`gaps between runs: ${gaps.join(', ')} ms`);
  // each gap is its back-off (100, 200, … 6400 ms) plus the time to notice the exit and start the
  // container again, which a slow, busy machine stretches to seconds: so each gap is at least its
  // back-off (/proc/uptime has 10 ms steps), and below it plus a generous 10 s
  gaps.forEach((g, i) => {
    const delay = 100 * 2 ** i;
    assert.ok(g >= delay - 10, `gap ${i + 1} ${g} ms is shorter than the back-off ${delay} ms (gaps ${gaps.join(', ')})`);
    assert.ok(g < delay + 10_000, `gap ${i + 1} ${g} ms is far above the back-off ${delay} ms (gaps ${gaps.join(', ')})`);
  });
  // the doubling itself: the lower bounds show no step is shorter than docker's; the last back-off is
  // not a step longer either (12.8 s), which holds while a restart's own time stays under 6.4 s
  assert.ok(gaps[6]! < 2 * 6400, `the seventh back-off is past docker's 6.4 s by a doubling: gaps ${gaps.join(', ')}`);
  assert.match(psLine, /^restarting\|Restarting \(0\) /, 'ps never showed the container restarting');
  assert.equal(inspected, 'restarting true true', 'inspect never showed the container restarting');
  assert.ok(restartCount('backoff') >= 7);
});

test('stop cancels always: no restart after a stop, even during a back-off', async () => {
  run('stopped', ['--restart', 'always'], `${RECORD_START}; sleep 1000`);
  await until('started', () => starts('stopped').length === 1, 30_000);
  tsrunOk(root().root, ['stop', '-t', '1', 'stopped']);
  assert.equal(status('stopped'), 'exited');
  await settled('stopped');
  assert.equal(starts('stopped').length, 1);
  assert.equal(restartCount('stopped'), 0);
  // a container waiting out its back-off: stop ends the wait
  run('stopwait', ['--restart', 'always'], `${RECORD_START}; exit 1`);
  await until('restarting', () => status('stopwait') === 'restarting', 60_000);
  tsrunOk(root().root, ['stop', 'stopwait']);
  assert.equal(status('stopwait'), 'exited');
  const before = starts('stopwait').length; // the restart may have happened just before the stop
  await settled('stopwait');
  assert.equal(starts('stopwait').length, before);
  assert.equal(status('stopwait'), 'exited');
});

test('kill (SIGKILL) is a manual stop: always does not restart; a process that dies by itself is restarted', async () => {
  run('killed', ['--restart', 'always'], `${RECORD_START}; sleep 1000`);
  await until('started', () => starts('killed').length === 1, 30_000);
  tsrunOk(root().root, ['kill', 'killed']);
  await settled('killed');
  assert.equal(status('killed'), 'exited');
  assert.equal(starts('killed').length, 1);
  // the same death without tsrun: SIGKILL from the host is no manual stop
  run('crashed', ['--restart', 'always'], `${RECORD_START}; sleep 1000`);
  await until('started', () => starts('crashed').length === 1, 30_000);
  process.kill(Number(inspect('crashed', '{{.State.Pid}}')), 'SIGKILL');
  await until('restarted', () => starts('crashed').length === 2 && status('crashed') === 'running', 60_000);
  assert.equal(restartCount('crashed'), 1);
  tsrunOk(root().root, ['rm', '-f', 'crashed']);
});

test('unless-stopped restarts until stopped; a user start resets RestartCount', async () => {
  // runs 0.3 s at a time until /out/hold exists
  run('unless', ['--restart', 'unless-stopped'], `${RECORD_START}; if [ -e /out/hold ]; then sleep 1000; fi; sleep 0.3`);
  await until('two runs', () => starts('unless').length >= 2, 60_000);
  assert.ok(restartCount('unless') >= 1);
  tsrunOk(root().root, ['stop', 'unless']);
  const n = starts('unless').length;
  await settled('unless');
  assert.equal(starts('unless').length, n);
  assert.equal(status('unless'), 'exited');
  fs.writeFileSync(path.join(root().scratch, 'unless', 'hold'), '');
  tsrunOk(root().root, ['start', 'unless']);
  assert.equal(restartCount('unless'), 0);
  tsrunOk(root().root, ['stop', 'unless']);
});

test('rm refuses a restarting container; rm -f removes it and its pending restart', async () => {
  run('rmwait', ['--restart', 'always'], `${RECORD_START}; exit 1`);
  // it runs for a moment between back-offs (then rm refuses a running container): rm is asked until
  // it meets a back-off, which soon takes most of the time as it doubles
  await until(
    'rm to meet the container restarting',
    () => {
      const r = tsrun(root().root, ['rm', 'rmwait']);
      assert.equal(r.code, 1, r.stderr);
      if (/container is restarting/.test(r.stderr)) return true;
      assert.match(r.stderr, /You cannot remove a running container/);
      return false;
    },
    60_000,
  );
  // the processes that could still start it: its monitor and the watcher waiting out the back-off
  const st = JSON.parse(fs.readFileSync(path.join(root().root, 'containers', idOf('rmwait'), 'state.json'), 'utf8'));
  const agents: [number | undefined, number | undefined][] = [[st.monitorPid, st.monitorStart], [st.restarting?.pid, st.restarting?.pidStart]];
  tsrunOk(root().root, ['rm', '-f', 'rmwait']);
  await until('the watcher to go', () => agents.every(([pid, start]) => !sameProcessAlive(pid, start)), 60_000);
  assert.equal(tsrun(root().root, ['inspect', 'rmwait']).code, 1);
});

test('bad --restart values: docker\'s one-line errors, exit 125, nothing created', () => {
  const before = snapshotTree(root().root);
  const cases: [string[], RegExp][] = [
    [['--restart', 'on-failure:x'], /invalid restart policy format: maximum retry count must be an integer/],
    [['--restart', 'sometimes'], /invalid restart policy: unknown policy 'sometimes'/],
    [['--restart', 'always:3'], /maximum retry count can only be used with 'on-failure'/],
    [['--restart', 'on-failure:-1'], /maximum retry count cannot be negative/],
    [['--restart', ':3'], /no policy provided before colon/],
    [['--restart', 'always', '--rm'], /Conflicting options: --restart and --rm/],
  ];
  for (const [flags, msg] of cases) {
    for (const verb of ['run', 'create']) {
      const r = tsrun(root().root, [verb, '--network', 'none', ...flags, 'busybox', 'true']);
      assert.equal(r.code, 125, `${verb} ${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  }
  assert.deepEqual(snapshotTree(root().root), before);
});

test('update --restart gives a running container a policy its monitor honours; no takes it away; inspect shows it', async () => {
  // runs until /out/go exists, then fails
  const cmd = `${RECORD_START}; while [ ! -e /out/go ]; do sleep 0.1; done; exit 1`;
  run('upd', ['--restart', 'no'], cmd);
  await until('started', () => starts('upd').length === 1, 30_000);
  assert.equal(tsrunOk(root().root, ['update', '--restart', 'on-failure:1', 'upd']), 'upd\n');
  assert.equal(inspect('upd', '{{json .HostConfig.RestartPolicy}}'), '{"MaximumRetryCount":1,"Name":"on-failure"}');
  fs.writeFileSync(path.join(root().scratch, 'upd', 'go'), '');
  await until('the restart the update asked for', () => starts('upd').length === 2 && status('upd') === 'exited', 60_000);
  await settled('upd');
  assert.equal(starts('upd').length, 2, 'on-failure:1: one restart only');
  assert.equal(restartCount('upd'), 1);
  // the other way: a policy given at run, taken away by update, is not applied
  run('updno', ['--restart', 'always'], cmd);
  await until('started', () => starts('updno').length === 1, 30_000);
  tsrunOk(root().root, ['update', '--restart=no', 'updno']);
  assert.equal(inspect('updno', '{{.HostConfig.RestartPolicy.Name}}'), 'no');
  fs.writeFileSync(path.join(root().scratch, 'updno', 'go'), '');
  await settled('updno');
  assert.equal(starts('updno').length, 1);
  assert.equal(restartCount('updno'), 0);
  // a stopped container: the record changes (docker's update works on any container)
  tsrunOk(root().root, ['update', '--restart', 'unless-stopped', 'updno']);
  assert.equal(inspect('updno', '{{json .HostConfig.RestartPolicy}}'), '{"MaximumRetryCount":0,"Name":"unless-stopped"}');
  assert.equal(status('updno'), 'exited');
});

test('update --restart: bad values and a --rm container give docker\'s one-line errors, exit 1, nothing changed', () => {
  names.push('updbad', 'updrm');
  tsrunOk(root().root, ['create', '--network', 'none', '--name', 'updbad', 'busybox', 'true']);
  tsrunOk(root().root, ['run', '-d', '--rm', '--network', 'none', '--name', 'updrm', 'busybox', 'sleep', '1000']);
  const before = snapshotTree(root().root);
  const cases: [string[], RegExp][] = [
    [['--restart', 'on-failure:x', 'updbad'], /^tsrun: invalid restart policy format: maximum retry count must be an integer/],
    [['--restart', 'sometimes', 'updbad'], /^tsrun: invalid restart policy: unknown policy 'sometimes'/],
    [['--restart', 'always:2', 'updbad'], /maximum retry count can only be used with 'on-failure'/],
    [['--restart', 'always', 'updrm'], /^tsrun: Cannot update container updrm: Restart policy cannot be updated because AutoRemove is enabled for the container/],
    [['--restart', 'always', 'nosuch'], /^tsrun: No such container: nosuch/],
    [['updbad'], /you must provide one or more flags/],
  ];
  for (const [args, msg] of cases) {
    const r = tsrun(root().root, ['update', ...args]);
    assert.equal(r.code, 1, `update ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.deepEqual(snapshotTree(root().root), before);
  assert.equal(inspect('updbad', '{{.HostConfig.RestartPolicy.Name}}'), 'no');
  // docker: several containers are each updated; a missing one is reported and the others still change
  const some = tsrun(root().root, ['update', '--restart', 'always', 'nosuch', 'updbad']);
  assert.equal(some.code, 1, some.stderr);
  assert.equal(some.stdout, 'updbad\n');
  assert.match(some.stderr, /^tsrun: No such container: nosuch/);
  assert.equal(inspect('updbad', '{{.HostConfig.RestartPolicy.Name}}'), 'always');
  // no is allowed on a --rm container (docker: IsNone)
  tsrunOk(root().root, ['update', '--restart', 'no', 'updrm']);
});
