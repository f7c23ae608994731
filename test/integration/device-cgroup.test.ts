/**
 * The device cgroup (issue #9, item 2), on this host's cgroup v1 devices
 * controller: a container may make device nodes (CAP_MKNOD, docker's `c *:* m`
 * and `b *:* m`) but opens only docker's default devices, and what --device
 * and --device-cgroup-rule add. Each test performs the attack: a node of a
 * host device made with mknod, or shipped in an image, must not open (EPERM),
 * for the container's process and for exec'd ones. --privileged keeps
 * `a *:* rwm`. The cgroup v2 (BPF program) side is in cgroup-v2.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tsrun, tsrunOk, useBusyboxRoot, snapshotTree } from '../helpers/cli.js';

const t = useBusyboxRoot();
const run = (args: string[], script: string) => tsrun(t().root, ['run', '--rm', ...args, 'busybox', 'sh', '-c', script]);

/**
 * The attack, as a shell script: make nodes of the host's /dev/kmsg (c 1:11)
 * and of loop0 (b 7:0), write the one and open the other. Prints MKNOD-C/-B
 * when the nodes were made, then w= and r= with the exit status of the open.
 */
const ATTACK = [
  'mknod /k c 1 11 && echo MKNOD-C',
  'mknod /l b 7 0 && echo MKNOD-B',
  '(echo tsrun-device-cgroup-test > /k) 2>&1; echo w=$?',
  '(exec 3</l) 2>&1; echo r=$?',
].join('; ');

function assertDenied(out: string, what: string): void {
  assert.match(out, /MKNOD-C/, `${what}: mknod of a char device is allowed (c *:* m)`);
  assert.match(out, /MKNOD-B/, `${what}: mknod of a block device is allowed (b *:* m)`);
  assert.match(out, /w=1/, `${what}: writing /dev/kmsg through a node must fail: ${out}`);
  assert.match(out, /r=[1-9]/, `${what}: opening block device 7:0 must fail: ${out}`);
  assert.equal((out.match(/Operation not permitted/g) ?? []).length, 2, `${what}: both opens fail with EPERM: ${out}`);
}

describe('device cgroup (v1)', () => {
  it('a default container can mknod but not open host devices; its own devices work; devices.list is docker\'s', () => {
    const r = run([], `${ATTACK}; echo x > /dev/null && echo NULL-OK; head -c 3 /dev/zero | wc -c; head -c 4 /dev/urandom | wc -c; exec 4<>/dev/ptmx && echo PTMX-OK; cat /sys/fs/cgroup/devices/devices.list`);
    assert.equal(r.code, 0, r.stderr);
    assertDenied(r.stdout, 'run');
    assert.match(r.stdout, /NULL-OK/);
    assert.match(r.stdout, /^\s*3\n\s*4$/m, 'zero and urandom read');
    assert.match(r.stdout, /PTMX-OK/, 'a pty can be opened');
    const list = r.stdout.split('\n').filter((l) => /^[abc] /.test(l)).sort();
    const docker = ['b *:* m', 'c *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 136:* rwm', 'c 10:200 rwm'];
    assert.deepEqual(list, docker.sort());
  });

  it('an exec\'d process is confined the same way', () => {
    const id = tsrunOk(t().root, ['run', '-d', 'busybox', 'sleep', '60']).trim();
    try {
      const r = tsrun(t().root, ['exec', id, 'sh', '-c', ATTACK]);
      assert.equal(r.code, 0, r.stderr);
      assertDenied(r.stdout, 'exec');
    } finally {
      tsrun(t().root, ['rm', '-f', id]);
    }
  });

  it('device nodes shipped in an image do not open', () => {
    // the image is made the way a hostile one would be: its layer holds nodes of host devices, mode 0666
    tsrunOk(t().root, ['run', '--name', 'mkdev', 'busybox', 'sh', '-c', 'mknod -m 666 /kmsg c 1 11 && mknod -m 666 /disk b 7 0']);
    tsrunOk(t().root, ['commit', 'mkdev', 'devimage:1']);
    tsrunOk(t().root, ['rm', 'mkdev']);
    const r = tsrun(t().root, ['run', '--rm', 'devimage:1', 'sh', '-c', 'ls -l /kmsg /disk; (echo tsrun-device-cgroup-test > /kmsg) 2>&1; echo w=$?; (exec 3</disk) 2>&1; echo r=$?']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^crw-rw-rw-\s.*1,\s+11 .*\/kmsg$/m, 'the image ships the char node');
    assert.match(r.stdout, /^brw-rw-rw-\s.*7,\s+0 .*\/disk$/m, 'the image ships the block node');
    assert.match(r.stdout, /w=1/);
    assert.match(r.stdout, /r=[1-9]/);
    assert.equal((r.stdout.match(/Operation not permitted/g) ?? []).length, 2, r.stdout);
  });

  // /dev/loop-control (c 10:237) is not on docker's list, and opening it needs no capability
  // (unlike reading /dev/kmsg, which wants CAP_SYSLOG): whether it opens is the device cgroup's call
  it('--device HOST:CTR:PERMS makes the node and allows exactly those permissions', () => {
    assert.ok(fs.statSync('/dev/loop-control').isCharacterDevice(), 'the host has /dev/loop-control');
    const r = run(['--device', '/dev/loop-control:/dev/lc:r'], 'ls -l /dev/lc; exec 3</dev/lc && echo OPEN-R; (exec 3>/dev/lc) 2>&1; echo w=$?; grep "10:237" /sys/fs/cgroup/devices/devices.list');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^c.*10,\s+237 .*\/dev\/lc$/m);
    assert.match(r.stdout, /OPEN-R/);
    assert.match(r.stdout, /Operation not permitted\nw=1/);
    assert.match(r.stdout, /^c 10:237 r$/m);
    // the default container path is the host path, the default permissions rwm
    const d = run(['--device', '/dev/loop-control'], 'ls -l /dev/loop-control; exec 3<>/dev/loop-control && echo OPEN-RW; grep "10:237" /sys/fs/cgroup/devices/devices.list');
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^c.*10,\s+237 .*\/dev\/loop-control$/m);
    assert.match(d.stdout, /OPEN-RW/);
    assert.match(d.stdout, /^c 10:237 rwm$/m);
  });

  it('--device-cgroup-rule allows without making a node', () => {
    const r = run(['--device-cgroup-rule', 'c 10:237 r'], 'test -e /dev/loop-control || echo NO-NODE; mknod /lc c 10 237; exec 3</lc && echo OPEN-R; (exec 3>/lc) 2>&1; echo w=$?; (mknod /l b 7 0; exec 3</l) 2>&1; echo r=$?');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /NO-NODE/);
    assert.match(r.stdout, /OPEN-R/);
    assert.match(r.stdout, /Operation not permitted\nw=1/);
    assert.match(r.stdout, /Operation not permitted\nr=[1-9]/, 'other devices stay denied');
    // type a: every device, as docker (cgroup v1 reads any "a" rule so)
    const all = run(['--device-cgroup-rule', 'a *:* rwm'], 'mknod /l b 7 0; exec 3</l && echo OPEN-L');
    assert.match(all.stdout, /OPEN-L/, all.stderr);
  });

  it('--privileged keeps every device open (a *:* rwm), as docker', () => {
    const r = run(['--privileged'], 'cat /sys/fs/cgroup/devices/devices.list; mknod /k c 1 11; exec 3>/k && echo OPEN-K; mknod /l b 7 0; exec 4</l && echo OPEN-L');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^a \*:\* rwm$/m);
    assert.match(r.stdout, /OPEN-K/);
    assert.match(r.stdout, /OPEN-L/);
  });

  it('bad --device and --device-cgroup-rule values: one usage line, exit 125, nothing created', () => {
    fs.mkdirSync(t().scratch, { recursive: true });
    const before = snapshotTree(t().root);
    const bad: [string[], RegExp][] = [
      [['--device', 'dev/kmsg'], /device/],
      [['--device', '/dev/kmsg:dev/k'], /device/],
      [['--device', '/dev/kmsg:/dev/k:rwx'], /device/],
      [['--device', '/dev/kmsg:/dev/k:rr'], /device/],
      [['--device', '/dev/kmsg:/dev/k:rw:m'], /device/],
      [['--device', '/dev/no-such-device-here'], /device/],
      [['--device', '/etc/hostname'], /device/],
      [['--device', '/dev/kmsg:/'], /device/],
      [['--device-cgroup-rule', 'x 1:3 r'], /device-cgroup-rule|device cgroup rule/],
      [['--device-cgroup-rule', 'c 1:3'], /device-cgroup-rule|device cgroup rule/],
      [['--device-cgroup-rule', 'c 1:3 rwmw'], /device-cgroup-rule|device cgroup rule/],
      [['--device-cgroup-rule', 'c a:3 r'], /device-cgroup-rule|device cgroup rule/],
    ];
    for (const [flags, msg] of bad) {
      for (const verb of ['create', 'run']) {
        const r = tsrun(t().root, [verb, ...flags, 'busybox', 'true']);
        assert.equal(r.code, 125, `${verb} ${flags.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /^tsrun: [^\n]+\n$/, `${verb} ${flags.join(' ')}: one line: ${r.stderr}`);
        assert.match(r.stderr, msg, `${verb} ${flags.join(' ')}`);
      }
    }
    assert.deepEqual(snapshotTree(t().root), before, 'the store did not change');
    // the same flags with good values are accepted (and shown by inspect, as docker's HostConfig)
    const id = tsrunOk(t().root, ['create', '--device', '/dev/loop-control:/dev/lc:r', '--device-cgroup-rule', 'c 1:11 r', 'busybox', 'true']).trim();
    const host = JSON.parse(tsrunOk(t().root, ['inspect', id]))[0].HostConfig;
    assert.deepEqual(host.Devices, [{ PathOnHost: '/dev/loop-control', PathInContainer: '/dev/lc', CgroupPermissions: 'r' }]);
    assert.deepEqual(host.DeviceCgroupRules, ['c 1:11 r']);
    tsrunOk(t().root, ['rm', id]);
  });
});
