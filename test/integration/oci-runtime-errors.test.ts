/**
 * tsrun-runtime on bad bundles: each is a one-line error on stderr, runc's
 * exit status (1), and nothing is left behind: no state dir, no cgroup, no
 * mount, no process of the container.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rt, rtCreate, makeBundle, cgroupDirs, mountsInside, cleanupRuntime, type Spec } from '../helpers/oci.js';

let work: string;
let root: string;
const cgroups: string[] = [];

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-oci-err-'));
  root = path.join(work, 'state');
});

after(() => {
  cleanupRuntime(root, cgroups);
  fs.rmSync(work, { recursive: true, force: true });
});

/** Processes whose cwd or root is inside dir (a container init left behind would have its root there). */
function processesIn(dir: string): number[] {
  const found: number[] = [];
  for (const p of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)))
    try {
      if (fs.readlinkSync(`/proc/${p}/cwd`).startsWith(dir)) found.push(Number(p));
    } catch {
      /* gone or not ours to read */
    }
  return found;
}

function refused(name: string, edit: (spec: Spec, dir: string) => void, message: RegExp, raw?: (dir: string) => void): void {
  test(`create refuses ${name}: one line, exit 1, nothing left`, () => {
    const { dir, cgroup } = makeBundle(work, (s) => edit(s, ''));
    cgroups.push(cgroup);
    raw?.(dir);
    const id = name.replace(/[^a-z0-9]+/gi, '-');
    const before = fs.existsSync(root) ? fs.readdirSync(root) : [];
    const r = rtCreate(root, dir, id);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.deepEqual(fs.existsSync(root) ? fs.readdirSync(root) : [], before, 'no state dir left');
    assert.deepEqual(cgroupDirs(cgroup), [], 'no cgroup left');
    assert.deepEqual(mountsInside(dir), [], 'no mount left');
    assert.deepEqual(processesIn(path.join(dir, 'rootfs')), [], 'no process left');
  });
}

refused('malformed JSON', () => {}, /config\.json: not valid JSON/, (dir) => fs.writeFileSync(path.join(dir, 'config.json'), '{"ociVersion": "1.2.0", "process": '));
refused('an unknown major ociVersion', (s) => (s.ociVersion = '2.0.0'), /unsupported ociVersion 2\.0\.0/);
refused('a missing rootfs', (s) => (s.root.path = 'no-such-rootfs'), /rootfs .*no-such-rootfs: No such file or directory/);
refused('an unknown namespace type', (s) => s.linux.namespaces.push({ type: 'foo' }), /unknown namespace type foo/);
refused(
  'a seccomp action it cannot honour',
  (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }),
  /seccomp action SCMP_ACT_NOTIFY is not supported/,
);
refused('an unknown capability', (s) => s.process.capabilities.bounding.push('CAP_TEST'), /unknown capability CAP_TEST/);
refused('a failing createRuntime hook', (s) => (s.hooks = { createRuntime: [{ path: '/bin/false' }] }), /createRuntime hook \/bin\/false failed with exit status 1/);
refused(
  'a hook that times out',
  (s) => (s.hooks = { prestart: [{ path: '/bin/sleep', args: ['sleep', '10'], timeout: 1 }] }),
  /prestart hook \/bin\/sleep timed out after 1s/,
);
refused(
  'a failing createContainer hook (run inside the container namespaces)',
  (s) => (s.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 3'] }] }),
  /createContainer hook \/bin\/sh failed with exit status 3/,
);
refused('a process that is not in the rootfs', (s) => (s.process.args = ['/no/such/binary']), /exec .*\/no\/such\/binary: No such file or directory/);
refused('a terminal without --console-socket', (s) => (s.process.terminal = true), /cannot allocate tty/);

test('verbs on a missing container fail with runc\'s message and status', () => {
  for (const verb of [['state'], ['start'], ['kill'], ['delete'], ['pause'], ['ps']]) {
    const r = rt(root, [...verb, 'nope']);
    assert.equal(r.code, 1, verb.join(' '));
    assert.equal(r.stderr, 'container does not exist\n');
  }
  const bad = rt(root, ['state', '../x']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid container id/);
});

test('--log-format json writes the error as a json record to the log file', () => {
  const log = path.join(work, 'log.json');
  const r = rt(root, ['--log', log, '--log-format', 'json', 'state', 'nope']);
  assert.equal(r.code, 1);
  const rec = JSON.parse(fs.readFileSync(log, 'utf8').trim()) as { level: string; msg: string };
  assert.equal(rec.level, 'error');
  assert.equal(rec.msg, 'container does not exist');
});
