/**
 * The reboot: containers with --restart always / unless-stopped come back
 * through contrib/systemd/tsrun-restart.service. The test simulates the
 * reboot on a temporary root: it SIGKILLs every container's monitor and
 * process (no exit.json gets written, as when the machine goes down), removes
 * their cgroups (a reboot starts with none), then runs the unit's own
 * ExecStart (with TSRUN_ROOT pointing at the test's root) and checks who is
 * back: always (also when stopped by hand, as docker), unless-stopped unless
 * stopped by hand, not on-failure or no. The ones back are watched again (a
 * crash restarts them). The unit file itself must pass `systemd-analyze verify`.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO, TSRUN, tsrun, tsrunOk, useBusyboxRoot } from '../helpers/cli.js';
import { sleep, until } from '../helpers/wait.js';
import { cgroupDirs } from '../../src/runtime/cgroups.js';
import { openCtx } from '../../src/context.js';
import { sameProcessAlive } from '../../src/containers/status.js';

const UNIT = path.join(REPO, 'contrib', 'systemd', 'tsrun-restart.service');
// registered before the root's cleanup: after hooks run in order, and this needs the store
after(() => {
  tsrun(root().root, ['rm', '-f', ...names]);
});

const root = useBusyboxRoot();
const names = ['b-always', 'b-unless', 'b-unless-stopped', 'b-always-stopped', 'b-onfail', 'b-no'];

function unitValue(key: string): string {
  const line = fs
    .readFileSync(UNIT, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${key}=`));
  assert.ok(line, `${key}= missing from the unit`);
  return line.slice(key.length + 1);
}

const status = (name: string) => tsrunOk(root().root, ['inspect', '-f', '{{.State.Status}}', name]).trim();

function state(name: string): { pid?: number; monitorPid?: number; pidStart?: number; monitorStart?: number } {
  const id = tsrunOk(root().root, ['inspect', '-f', '{{.Id}}', name]).trim();
  return JSON.parse(fs.readFileSync(path.join(root().root, 'containers', id, 'state.json'), 'utf8'));
}

test('the unit file passes systemd-analyze verify, run through tsrun start --all-restart', () => {
  // a copy whose ExecStart names this checkout's tsrun (the shipped one names /usr/local/bin/tsrun)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-unit-'));
  try {
    const copy = path.join(dir, 'tsrun-restart.service');
    fs.writeFileSync(copy, fs.readFileSync(UNIT, 'utf8').replaceAll('/usr/local/bin/tsrun', TSRUN));
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    assert.equal(r.status, 0, `systemd-analyze verify: ${r.stderr}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(unitValue('ExecStart'), '/usr/local/bin/tsrun start --all-restart');
  assert.equal(unitValue('Type'), 'oneshot');
  assert.equal(unitValue('RemainAfterExit'), 'yes');
});

test('after a simulated reboot, the unit brings back always and unless-stopped containers, not those stopped by hand (unless always)', async () => {
  const r = root().root;
  const runD = (name: string, policy: string) => tsrunOk(r, ['run', '-d', '--network', 'none', '--name', name, '--restart', policy, 'busybox', 'sleep', '1000']);
  runD('b-always', 'always');
  runD('b-unless', 'unless-stopped');
  runD('b-unless-stopped', 'unless-stopped');
  runD('b-always-stopped', 'always');
  runD('b-onfail', 'on-failure');
  runD('b-no', 'no');
  tsrunOk(r, ['stop', '-t', '0', 'b-unless-stopped', 'b-always-stopped']);
  for (const n of names) assert.equal(status(n), names.indexOf(n) === 2 || names.indexOf(n) === 3 ? 'exited' : 'running', n);

  // the machine goes down: every monitor and container process dies at once, nothing is recorded
  const ctx = openCtx(r);
  const ids = names.map((n) => tsrunOk(r, ['inspect', '-f', '{{.Id}}', n]).trim());
  for (const n of names) {
    const s = state(n);
    // only the recorded processes themselves: a stopped container's PIDs may belong to another process by now
    for (const [pid, start] of [[s.monitorPid, s.monitorStart], [s.pid, s.pidStart]]) {
      if (!pid || !sameProcessAlive(pid, start)) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  // and comes back with no cgroups (the kernel's are new at boot)
  await until('the cgroups to empty and go', () => {
    let left = 0;
    for (const id of ids) {
      for (const d of cgroupDirs(id, ctx).dirs) {
        try {
          fs.rmdirSync(d);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') left++;
        }
      }
    }
    return left === 0;
  }, 30_000);
  // the running ones died unrecorded (the two stopped by hand keep their exit.json)
  for (const i of [0, 1, 4, 5]) assert.equal(fs.existsSync(path.join(r, 'containers', ids[i]!, 'exit.json')), false, names[i]);

  // systemd runs the unit's ExecStart at boot
  const [, ...args] = unitValue('ExecStart').split(' ');
  const boot = spawnSync(process.execPath, ['--', TSRUN, ...args], { env: { ...process.env, TSRUN_ROOT: r }, encoding: 'utf8', timeout: 120_000 });
  assert.equal(boot.status, 0, boot.stderr);
  assert.deepEqual(boot.stdout.trim().split('\n').sort(), ['b-always', 'b-always-stopped', 'b-unless']);
  assert.equal(status('b-always'), 'running');
  assert.equal(status('b-unless'), 'running');
  assert.equal(status('b-always-stopped'), 'running');
  assert.equal(status('b-unless-stopped'), 'exited');
  assert.equal(status('b-onfail'), 'exited');
  assert.equal(status('b-no'), 'exited');
  assert.match(tsrunOk(r, ['inspect', '-f', '{{.State.Error}}', 'b-no']), /monitor lost/);

  // running it again (a second boot, or by hand) starts nothing twice
  const again = spawnSync(process.execPath, ['--', TSRUN, ...args], { env: { ...process.env, TSRUN_ROOT: r }, encoding: 'utf8' });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, '');

  // the ones back are watched again: a crash is restarted
  process.kill(state('b-always').pid!, 'SIGKILL');
  await until('b-always restarted', () => status('b-always') === 'running' && tsrunOk(r, ['inspect', '-f', '{{.RestartCount}}', 'b-always']).trim() === '1', 60_000);
  await sleep(100);
});
