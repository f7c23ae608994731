/**
 * The parsing half of the device policy (src/runtime/devices.ts), docker's
 * rules: --device HOST[:CTR][:PERMS] where a second field that reads as
 * permissions is permissions, and --device-cgroup-rule 'TYPE MAJOR:MINOR PERMS'.
 * What the rules do in a container is test/integration/device-cgroup.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DEVICE_RULES, containerDevices, parseDevice, parseDeviceCgroupRule } from '../../src/runtime/devices.js';

test('--device: container path and permissions default to the host path and rwm; a second field may be either', () => {
  assert.deepEqual(parseDevice('/dev/null'), { pathOnHost: '/dev/null', pathInContainer: '/dev/null', cgroupPermissions: 'rwm' });
  assert.deepEqual(parseDevice('/dev/null:r'), { pathOnHost: '/dev/null', pathInContainer: '/dev/null', cgroupPermissions: 'r' });
  assert.deepEqual(parseDevice('/dev/null:/dev/x/'), { pathOnHost: '/dev/null', pathInContainer: '/dev/x', cgroupPermissions: 'rwm' });
  assert.deepEqual(parseDevice('/dev/null:/dev/../x:mw'), { pathOnHost: '/dev/null', pathInContainer: '/x', cgroupPermissions: 'mw' });
});

test('--device: bad values are usage errors', () => {
  for (const bad of ['', ':/x', 'dev/null', '/dev/null:x', '/dev/null:/x:', '/dev/null:/x:rr', '/dev/null:/x:rwmr', '/dev/null:/x:q', '/dev/null:/x:r:w', '/dev/null:/', '/no/such/device', '/etc/hostname', '/dev/null:/x\x1f']) {
    assert.throws(() => parseDevice(bad), (e: { code?: string; message?: string }) => e.code === 'USAGE' && /--device/.test(e.message ?? ''), JSON.stringify(bad));
  }
});

test('--device-cgroup-rule: docker\'s format; * for any number; repeated letters count once', () => {
  assert.deepEqual(parseDeviceCgroupRule('c 1:3 rwm'), { type: 'c', major: 1, minor: 3, access: 'rwm' });
  assert.deepEqual(parseDeviceCgroupRule('b *:* m'), { type: 'b', major: -1, minor: -1, access: 'm' });
  assert.deepEqual(parseDeviceCgroupRule('a 7:* rr'), { type: 'a', major: 7, minor: -1, access: 'r' });
  for (const bad of ['', 'c 1:3', 'x 1:3 r', 'c 1:3 rwmw', 'c -1:3 r', 'c 1:3 q', ' c 1:3 r', 'c 1:3 r ', 'c 1 3 r', 'c 999999999:1 r']) {
    assert.throws(() => parseDeviceCgroupRule(bad), (e: { code?: string }) => e.code === 'USAGE', JSON.stringify(bad));
  }
});

test('the policy: docker\'s defaults, then --device and --device-cgroup-rule; a --device node carries the host\'s numbers', () => {
  assert.equal(DEFAULT_DEVICE_RULES.length, 12);
  const p = containerDevices({ privileged: false, devices: [parseDevice('/dev/null:/dev/mynull:r')], deviceCgroupRules: ['c 10:200 rw'] });
  assert.deepEqual(p.rules.slice(0, 12), [...DEFAULT_DEVICE_RULES]);
  assert.deepEqual(p.rules.slice(12), [
    { type: 'c', major: 1, minor: 3, access: 'r' },
    { type: 'c', major: 10, minor: 200, access: 'rw' },
  ]);
  assert.equal(p.ops.length, 1);
  assert.deepEqual({ ...p.ops[0], mode: undefined, uid: undefined, gid: undefined }, { op: 'mknod', dst: '/dev/mynull', mode: undefined, major: 1, minor: 3, uid: undefined, gid: undefined });
});
