/**
 * tsrun-runtime, the OCI runtime CLI: the lifecycle on a plain-directory
 * busybox bundle (create → created with a live pid, start runs the process,
 * kill, delete leaves no state dir, cgroup, mount or process) and the
 * informational commands. Bad bundles: oci-runtime-errors.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rt, rtCreate, makeBundle, cgroupDirs, mountsInside, alive, cleanupRuntime, RUNTIME } from '../helpers/oci.js';
import { until } from '../helpers/wait.js';
import { spawnSync } from 'node:child_process';

let work: string;
let root: string;
const cgroups: string[] = [];

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-oci-'));
  root = path.join(work, 'state');
});

after(() => {
  cleanupRuntime(root, cgroups);
  fs.rmSync(work, { recursive: true, force: true });
});

function status(id: string): { status: string; pid: number } {
  const r = rt(root, ['state', id]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('create leaves the init waiting (created, with a pid); start runs the process; delete leaves nothing', async () => {
  const { dir, cgroup } = makeBundle(work, (s) => {
    s.process.args = ['sh', '-c', 'echo started as $(id -u) on $(hostname) in $(pwd); exec sleep 100000'];
    s.process.cwd = '/work/dir';
    s.hostname = 'oci-box';
  });
  cgroups.push(cgroup);
  const pidFile = path.join(work, 'c1.pid');
  const c = rtCreate(root, dir, 'c1', ['--pid-file', pidFile]);
  assert.equal(c.code, 0, c.stderr);
  const created = status('c1');
  assert.equal(created.status, 'created');
  assert.ok(created.pid > 0 && alive(created.pid), 'the init is alive');
  assert.equal(fs.readFileSync(pidFile, 'utf8'), String(created.pid));
  assert.equal(fs.readFileSync(path.join(dir, 'stdio.log'), 'utf8'), '', 'nothing ran before start');
  assert.ok(cgroupDirs(cgroup).length > 0, 'the cgroup exists');
  const procs = fs.readFileSync(path.join(cgroupDirs(cgroup)[0], 'cgroup.procs'), 'utf8');
  assert.match(procs, new RegExp(`^${created.pid}$`, 'm'), 'the init is in its cgroup');

  const s = rt(root, ['start', 'c1']);
  assert.equal(s.code, 0, s.stderr);
  await until('the process output', () => fs.readFileSync(path.join(dir, 'stdio.log'), 'utf8').includes('started'), 60_000);
  assert.equal(fs.readFileSync(path.join(dir, 'stdio.log'), 'utf8'), 'started as 0 on oci-box in /work/dir\n');
  assert.equal(status('c1').status, 'running');
  assert.equal(status('c1').pid, created.pid, 'the init became the process');
  const again = rt(root, ['start', 'c1']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /cannot start a container that is running/);

  const busy = rt(root, ['delete', 'c1']);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /not stopped: running/);
  // PID 1 of a pid namespace ignores signals it has no handler for: KILL
  assert.equal(rt(root, ['kill', 'c1', 'KILL']).code, 0);
  await until('the container to stop', () => status('c1').status === 'stopped', 60_000);
  const d = rt(root, ['delete', 'c1']);
  assert.equal(d.code, 0, d.stderr);
  assert.ok(!fs.existsSync(path.join(root, 'c1')), 'state dir removed');
  assert.deepEqual(cgroupDirs(cgroup), [], 'cgroup removed');
  assert.deepEqual(mountsInside(dir), [], 'no mount left on the host');
  assert.ok(!alive(created.pid));
  const gone = rt(root, ['state', 'c1']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /container does not exist/);
});

test('delete --force kills a running container; delete of a created one kills its waiting init', async () => {
  const { dir, cgroup } = makeBundle(work, (s) => {
    s.process.args = ['sleep', '100000'];
  });
  cgroups.push(cgroup);
  assert.equal(rtCreate(root, dir, 'c2').code, 0);
  const pid = status('c2').pid;
  assert.equal(rt(root, ['start', 'c2']).code, 0);
  const d = rt(root, ['delete', '--force', 'c2']);
  assert.equal(d.code, 0, d.stderr);
  assert.ok(!alive(pid));
  assert.deepEqual(cgroupDirs(cgroup), []);
  assert.ok(!fs.existsSync(path.join(root, 'c2')));

  assert.equal(rtCreate(root, dir, 'c3').code, 0);
  const pid3 = status('c3').pid;
  const d3 = rt(root, ['delete', 'c3']);
  assert.equal(d3.code, 0, d3.stderr);
  assert.ok(!alive(pid3));
  assert.ok(!fs.existsSync(path.join(root, 'c3')));
  assert.equal(rt(root, ['delete', '--force', 'never-was']).code, 0, 'delete --force of a missing container is not an error (runc)');
});

test('the spec is carried out: capabilities, rlimits, readonly root, masked paths, env, user', async () => {
  const { dir, cgroup } = makeBundle(work, (s) => {
    s.process.args = ['sh', '-c', 'grep -E "^(CapEff|CapBnd)" /proc/self/status; ulimit -n; touch /x 2>&1 | head -c 40; echo; cat /proc/version | wc -c; echo $FOO; id'];
    s.process.env.push('FOO=bar');
    s.process.user = { uid: 1000, gid: 1000, additionalGids: [10] };
    // a non-root process keeps capabilities across exec only as ambient ones
    s.process.capabilities = { bounding: ['CAP_KILL', 'CAP_CHOWN'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], inheritable: ['CAP_KILL'], ambient: ['CAP_KILL'] };
    s.linux.maskedPaths.push('/proc/version');
    s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 512 }];
  });
  cgroups.push(cgroup);
  assert.equal(rtCreate(root, dir, 'c4').code, 0);
  assert.equal(rt(root, ['start', 'c4']).code, 0);
  await until('the container to stop', () => status('c4').status === 'stopped', 60_000);
  const out = fs.readFileSync(path.join(dir, 'stdio.log'), 'utf8');
  assert.match(out, /CapEff:\s+0000000000000020/, 'effective: CAP_KILL only');
  assert.match(out, /CapBnd:\s+0000000000000021/, 'bounding: CAP_KILL, CAP_CHOWN');
  assert.match(out, /^512$/m);
  assert.match(out, /Read-only file system/);
  assert.match(out, /^0$/m, '/proc/version is masked');
  assert.match(out, /^bar$/m);
  assert.match(out, /uid=1000\S* gid=1000\S* groups=10\b/);
  assert.equal(rt(root, ['delete', 'c4']).code, 0);
});

test('list shows containers; kill of a stopped one fails as runc; spec, features and --version', () => {
  const { dir, cgroup } = makeBundle(work, (s) => {
    s.process.args = ['true'];
  });
  cgroups.push(cgroup);
  assert.equal(rtCreate(root, dir, 'c5').code, 0);
  const l = rt(root, ['list', '--format', 'json']);
  assert.equal(l.code, 0, l.stderr);
  const list = JSON.parse(l.stdout) as { id: string; status: string }[];
  assert.deepEqual(list.filter((c) => c.id === 'c5').map((c) => c.status), ['created']);
  assert.equal(rt(root, ['delete', '--force', 'c5']).code, 0);
  const k = rt(root, ['kill', 'c5']);
  assert.equal(k.code, 1);

  const v = spawnSync(RUNTIME, ['--version'], { encoding: 'utf8' });
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^tsrun-runtime version .*\nspec: 1\.2\.0\nlibseccomp: \d+\.\d+\.\d+\n$/); // runc prints the same three lines
  const f = spawnSync(RUNTIME, ['features'], { encoding: 'utf8' });
  assert.equal(f.status, 0);
  const features = JSON.parse(f.stdout);
  assert.equal(features.ociVersionMax, '1.2.0');
  assert.ok(features.linux.namespaces.includes('pid'));
  const again = spawnSync(RUNTIME, ['spec', '--bundle', dir], { encoding: 'utf8' });
  assert.equal(again.status, 1, 'spec refuses to overwrite config.json');
  assert.match(again.stderr, /exists/);
  const sd = spawnSync(RUNTIME, ['--systemd-cgroup', 'list'], { encoding: 'utf8' });
  assert.equal(sd.status, 1);
  assert.match(sd.stderr, /--systemd-cgroup is not supported/);
});

test('hooks run in order at their points, each with the state on stdin', async () => {
  let logHost = '';
  const { dir, cgroup } = makeBundle(work, (s) => {
    s.root.readonly = false;
    s.process.args = ['sh', '-c', 'echo process >> /hooks.log'];
  });
  cgroups.push(cgroup);
  logHost = path.join(dir, 'rootfs', 'hooks.log');
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  // each hook appends "KIND STATUS ID" read from the state JSON on its stdin
  const hook = (kind: string, file: string) => ({
    path: '/bin/sh',
    args: ['sh', '-c', `s=$(cat | tr -d '\\n '); st=\${s#*\\"status\\":\\"}; id=\${s#*\\"id\\":\\"}; echo ${kind} \${st%%\\"*} \${id%%\\"*} >> ${file}`],
  });
  spec.hooks = {
    prestart: [hook('prestart', logHost)],
    createRuntime: [hook('createRuntime', logHost)],
    createContainer: [hook('createContainer', logHost)],
    startContainer: [hook('startContainer', '/hooks.log')],
    poststart: [hook('poststart', logHost)],
    poststop: [hook('poststop', logHost)],
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
  assert.equal(rtCreate(root, dir, 'c6').code, 0);
  assert.equal(fs.readFileSync(logHost, 'utf8'), 'prestart creating c6\ncreateRuntime creating c6\ncreateContainer creating c6\n');
  assert.equal(rt(root, ['start', 'c6']).code, 0);
  await until('the container to stop', () => status('c6').status === 'stopped', 60_000);
  const d = rt(root, ['delete', 'c6']);
  assert.equal(d.code, 0, d.stderr);
  const lines = fs.readFileSync(logHost, 'utf8').split('\n').filter(Boolean);
  assert.deepEqual(lines.slice(0, 3), ['prestart creating c6', 'createRuntime creating c6', 'createContainer creating c6']);
  // poststart runs once start released the process: it may see it before or after it ran
  assert.deepEqual(lines.slice(3).filter((l) => !l.startsWith('poststart')), ['startContainer running c6', 'process', 'poststop stopped c6']);
  assert.ok(lines.includes('poststart running c6'));
});

test('a user namespace: the id maps are written before the init goes on; devices are the host\'s, bind-mounted', async () => {
  const { dir, cgroup } = makeBundle(work, (s) => {
    s.process.args = ['sh', '-c', 'id -u; cat /proc/self/uid_map /proc/self/gid_map; echo x > /dev/null && echo null-ok'];
    s.linux.namespaces.push({ type: 'user' });
    s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    // sysfs and cgroup mounts need more than a user namespace gives without a host-owned netns; keep the test to the maps
    s.mounts = s.mounts.filter((m: { destination: string }) => !['/sys', '/sys/fs/cgroup'].includes(m.destination));
  });
  cgroups.push(cgroup);
  // the container's root (host uid 100000) must be able to reach the rootfs, as with runc
  fs.chmodSync(work, 0o755);
  fs.chmodSync(dir, 0o755);
  const c = rtCreate(root, dir, 'c7');
  assert.equal(c.code, 0, c.stderr);
  assert.equal(rt(root, ['start', 'c7']).code, 0);
  await until('the container to stop', () => status('c7').status === 'stopped', 60_000);
  const out = fs.readFileSync(path.join(dir, 'stdio.log'), 'utf8').replace(/[ \t]+/g, ' ');
  assert.equal(out, '0\n 0 100000 65536\n 0 100000 65536\nnull-ok\n');
  assert.equal(rt(root, ['delete', 'c7']).code, 0);
  assert.deepEqual(cgroupDirs(cgroup), []);
});
