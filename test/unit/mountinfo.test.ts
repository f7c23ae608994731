/** mountinfo parsing: escaped mount points, fstype and super options, mounts below a dir deepest first. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readMountInfo, mountsBelow } from '../../src/util/mountinfo.js';
import { native, MNT_DETACH } from '../../src/native.js';

test('a sample mountinfo: octal escapes undone, optional fields (propagation) apart', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-mi-'));
  try {
    const f = path.join(dir, 'mountinfo');
    fs.writeFileSync(
      f,
      [
        '36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
        '40 25 0:35 / /sys/fs/cgroup/memory rw,nosuid shared:16 - cgroup cgroup rw,memory',
        'garbage line',
      ].join('\n'),
    );
    assert.deepEqual(readMountInfo(f), [
      { mountPoint: '/mnt/with space', fstype: 'ext3', superOptions: ['rw', 'errors=continue'], propagation: ['master:1'] },
      { mountPoint: '/sys/fs/cgroup/memory', fstype: 'cgroup', superOptions: ['rw', 'memory'], propagation: ['shared:16'] },
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('mountsBelow: real mounts under a dir with a space, deepest first; none for a missing dir', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun mi '));
  const a = path.join(dir, 'a');
  const b = path.join(a, 'b');
  try {
    fs.mkdirSync(a);
    native().mount('tmpfs', a, 'tmpfs', 0, 'size=1m');
    fs.mkdirSync(b);
    native().mount('tmpfs', b, 'tmpfs', 0, 'size=1m');
    assert.deepEqual(mountsBelow(dir), [b, a]);
    assert.deepEqual(mountsBelow(path.join(dir, 'nope')), []);
  } finally {
    for (const m of [b, a]) {
      try {
        native().umount2(m, MNT_DETACH);
      } catch {
        /* not mounted */
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
