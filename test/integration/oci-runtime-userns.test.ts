/**
 * tsrun-runtime and user namespaces, as runc and crun: a container with a new
 * user namespace and its id maps; a second one that joins that namespace by
 * path (its other new namespaces are then owned by it: its hostname is set,
 * /proc mounted); `exec` into the first lands in its user namespace; a new
 * user namespace beside a network namespace the host's root made (joined
 * before the user namespace is made, as runc); and a
 * joined namespace with mappings given too is refused with runc's error.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { rt, rtCreate, makeBundle, cleanupRuntime, type Spec } from '../helpers/oci.js';
import { until } from '../helpers/wait.js';

let work: string;
let root: string;
const cgroups: string[] = [];
const MAP = [{ containerID: 0, hostID: 100000, size: 65536 }];

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-oci-userns-'));
  // root in the namespace is 100000 on the host: it must be able to search its way to the rootfs
  fs.chmodSync(work, 0o711);
  root = path.join(work, 'state');
});

after(() => {
  cleanupRuntime(root, cgroups);
  fs.rmSync(work, { recursive: true, force: true });
});

/** A bundle whose rootfs belongs to the namespace's root (as an engine prepares it for a user namespace). */
function usernsBundle(edit: (s: Spec) => void): string {
  const { dir, cgroup } = makeBundle(work, (s) => {
    // a cgroup v1 hierarchy cannot be mounted from a user namespace (runc leaves it out there too)
    s.mounts = s.mounts.filter((m: Spec) => m.type !== 'cgroup');
    edit(s);
  });
  cgroups.push(cgroup);
  fs.chmodSync(dir, 0o711);
  const ch = spawnSync('chown', ['-R', '100000:100000', path.join(dir, 'rootfs')]);
  assert.equal(ch.status, 0, ch.stderr?.toString());
  return dir;
}

const stateOf = (id: string) => JSON.parse(rt(root, ['state', id]).stdout) as { status: string; pid: number };

test('a new user namespace; a second container joins it by path (its own namespaces owned by it); exec enters it', async () => {
  const first = usernsBundle((s) => {
    s.process.args = ['sleep', '100000'];
    s.linux.namespaces.push({ type: 'user' });
    s.linux.uidMappings = MAP;
    s.linux.gidMappings = MAP;
  });
  const c = rtCreate(root, first, 'u1');
  assert.equal(c.code, 0, c.stderr);
  assert.equal(rt(root, ['start', 'u1']).code, 0);
  const pid = stateOf('u1').pid;
  assert.ok(pid > 0);

  const second = usernsBundle((s) => {
    s.hostname = 'joiner';
    s.process.args = ['sh', '-c', 'cat /proc/self/uid_map; id -u; hostname; readlink /proc/self/ns/user; stat -c %u /bin/busybox'];
    s.linux.namespaces.push({ type: 'user', path: `/proc/${pid}/ns/user` });
  });
  const c2 = rtCreate(root, second, 'u2');
  assert.equal(c2.code, 0, c2.stderr);
  assert.equal(rt(root, ['start', 'u2']).code, 0);
  const userns = fs.readlinkSync(`/proc/${pid}/ns/user`);
  await until('the joiner to finish', () => stateOf('u2').status === 'stopped', 60_000);
  const lines = fs.readFileSync(path.join(second, 'stdio.log'), 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  assert.deepEqual(lines, ['0 100000 65536', '0', 'joiner', userns, '0'], 'in the first container\'s user namespace, root there; its uts namespace is its own and owned by it');
  assert.equal(rt(root, ['delete', 'u2']).code, 0);

  const e = rt(root, ['exec', 'u1', 'sh', '-c', 'cat /proc/self/uid_map; id -u; readlink /proc/self/ns/user']);
  assert.equal(e.code, 0, e.stderr);
  assert.deepEqual(e.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' ')), ['0 100000 65536', '0', userns]);
});

test('a new user namespace with a network namespace the host\'s root made, given by path: joined before the user namespace (runc\'s order)', async () => {
  // a network namespace owned by the host's user namespace, as an engine (podman, containerd's CNI) makes one
  const holder = spawn('unshare', ['--net', 'sleep', '100000'], { stdio: 'ignore' });
  try {
    let netns = '';
    await until('the holder\'s network namespace', () => {
      try {
        netns = fs.readlinkSync(`/proc/${holder.pid}/ns/net`);
        return netns !== fs.readlinkSync('/proc/self/ns/net');
      } catch {
        return false;
      }
    }, 60_000);
    const dir = usernsBundle((s) => {
      s.process.args = ['sh', '-c', 'cat /proc/self/uid_map; readlink /proc/self/ns/net'];
      s.linux.namespaces = s.linux.namespaces.filter((n: Spec) => n.type !== 'network');
      s.linux.namespaces.push({ type: 'network', path: `/proc/${holder.pid}/ns/net` }, { type: 'user' });
      s.linux.uidMappings = MAP;
      s.linux.gidMappings = MAP;
      // sysfs cannot be mounted for a network namespace the user namespace does not own (runc binds /sys then)
      s.mounts = s.mounts.map((m: Spec) => (m.type === 'sysfs' ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] } : m));
    });
    const c = rtCreate(root, dir, 'u4');
    assert.equal(c.code, 0, c.stderr);
    assert.equal(rt(root, ['start', 'u4']).code, 0);
    await until('it to finish', () => stateOf('u4').status === 'stopped', 60_000);
    const lines = fs.readFileSync(path.join(dir, 'stdio.log'), 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    assert.deepEqual(lines, ['0 100000 65536', netns]);
    assert.equal(rt(root, ['delete', 'u4']).code, 0);
  } finally {
    holder.kill('SIGKILL');
  }
});

test('a user namespace joined by path with mappings given too: runc\'s error, nothing left', () => {
  const dir = usernsBundle((s) => {
    s.linux.namespaces.push({ type: 'user', path: '/proc/self/ns/user' });
    s.linux.uidMappings = MAP;
    s.linux.gidMappings = MAP;
  });
  const c = rtCreate(root, dir, 'u3');
  assert.equal(c.code, 1);
  assert.match(c.stderr, /user namespaces enabled, but both namespace path and mapping specified -- you may only provide one/);
  assert.equal(c.stderr.trim().split('\n').length, 1, 'one line');
  assert.ok(!fs.existsSync(path.join(root, 'u3')), 'no state dir');
});
