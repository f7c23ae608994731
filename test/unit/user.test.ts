/**
 * -u USER[:GROUP] resolution against an image's /etc/passwd and /etc/group,
 * read from the container's upper dir and layers as the container sees them:
 * symlinks and ".." resolved inside each layer, never on the host; a
 * whiteout (or anything but a file) in a higher layer hides the file below.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveUser } from '../../src/runtime/user.js';
import { native } from '../../src/native.js';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-user-'));
after(() => fs.rmSync(base, { recursive: true, force: true }));

let n = 0;
/** A layer dir with the given files (content string, or { link } for a symlink, or 'whiteout'). */
function layer(files: Record<string, string | { link: string } | 'whiteout'>): string {
  const dir = path.join(base, `l${n++}`);
  for (const [name, what] of Object.entries(files)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (what === 'whiteout') native().mknod(p, fs.constants.S_IFCHR | 0o000, 0, 0);
    else if (typeof what === 'string') fs.writeFileSync(p, what);
    else fs.symlinkSync(what.link, p);
  }
  return dir;
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\napp:x:1001:\nextra:x:2000:app,other\nwheel:x:10:root\n';

test('names, ids and supplementary groups from the image', () => {
  const l = layer({ 'etc/passwd': PASSWD, 'etc/group': GROUP });
  assert.deepEqual(resolveUser([l], ''), { uid: 0, gid: 0, groups: [10], home: '/root' });
  assert.deepEqual(resolveUser([l], 'app'), { uid: 1000, gid: 1001, groups: [2000], home: '/home/app' });
  assert.deepEqual(resolveUser([l], '1000'), { uid: 1000, gid: 1001, groups: [2000], home: '/home/app' });
  assert.deepEqual(resolveUser([l], 'app:extra'), { uid: 1000, gid: 2000, groups: [], home: '/home/app' });
  assert.deepEqual(resolveUser([l], '4242:4343'), { uid: 4242, gid: 4343, groups: [], home: '/' });
  assert.throws(() => resolveUser([l], 'nobody'), /unable to find user nobody/);
  assert.throws(() => resolveUser([l], 'app:nogroup'), /unable to find group nogroup/);
});

test('the highest layer that has the file wins; a whiteout hides the ones below', () => {
  const lower = layer({ 'etc/passwd': PASSWD, 'etc/group': GROUP });
  const upper = layer({ 'etc/passwd': 'root:x:0:0:root:/newroot:/bin/sh\n' });
  assert.equal(resolveUser([upper, lower], '').home, '/newroot');
  assert.equal(resolveUser([upper, lower], '').groups.length, 1, '/etc/group still comes from below');
  const deleted = layer({ 'etc/passwd': 'whiteout' });
  assert.throws(() => resolveUser([deleted, lower], 'app'), /unable to find user app/);
  assert.deepEqual(resolveUser([deleted, lower], '0'), { uid: 0, gid: 0, groups: [], home: '/' });
});

test('symlinks and .. resolve inside the layer, never on the host', () => {
  const hostFile = path.join(base, 'host-passwd');
  fs.writeFileSync(hostFile, 'root:x:0:0:root:/HOST:/bin/sh\n');
  const lower = layer({ 'etc/passwd': PASSWD });
  // absolute link: /real/passwd of the layer, not of the host
  const abs = layer({ 'etc/passwd': { link: '/real/passwd' }, 'real/passwd': 'root:x:0:0:root:/inside:/bin/sh\n' });
  assert.equal(resolveUser([abs, lower], '').home, '/inside');
  // an absolute link to the host file and a ../ climb both stay inside: nothing there, so the layer below
  const toHost = layer({ 'etc/passwd': { link: hostFile } });
  assert.equal(resolveUser([toHost, lower], '').home, '/root');
  const climb = layer({ 'etc/passwd': { link: `../../../../../../..${hostFile}` } });
  assert.equal(resolveUser([climb, lower], '').home, '/root');
});

test('an unset user is uid 0 gid 0 when the image has no passwd entry for it (FROM scratch), as runc', () => {
  const scratch = layer({ 'bin/app': 'static binary' });
  assert.deepEqual(resolveUser([scratch], ''), { uid: 0, gid: 0, groups: [], home: '/' });
  const noRoot = layer({ 'etc/passwd': 'app:x:1000:1001:app:/home/app:/bin/sh\n' });
  assert.deepEqual(resolveUser([noRoot], ''), { uid: 0, gid: 0, groups: [], home: '/' });
  // a user asked for by name still has to exist, as in docker
  assert.throws(() => resolveUser([scratch], 'root'), /unable to find user root/);
  assert.deepEqual(resolveUser([scratch], '1000:1000'), { uid: 1000, gid: 1000, groups: [], home: '/' });
});

test('a fifo, a directory or an oversized file as /etc/passwd never blocks and counts as absent', () => {
  const fifo = layer({});
  fs.mkdirSync(path.join(fifo, 'etc'), { recursive: true });
  native().mknod(path.join(fifo, 'etc', 'passwd'), fs.constants.S_IFIFO | 0o644, 0, 0);
  native().mknod(path.join(fifo, 'etc', 'group'), fs.constants.S_IFIFO | 0o644, 0, 0);
  const lower = layer({ 'etc/passwd': PASSWD, 'etc/group': GROUP });
  assert.deepEqual(resolveUser([fifo, lower], ''), { uid: 0, gid: 0, groups: [], home: '/' }, 'the fifo hides the layer below');
  const dir = layer({ 'etc/passwd/x': '' });
  assert.deepEqual(resolveUser([dir], ''), { uid: 0, gid: 0, groups: [], home: '/' });
  const big = layer({ 'etc/passwd': 'root:x:0:0:root:/big:/bin/sh\n'.padEnd((4 << 20) + 1, '#') });
  assert.deepEqual(resolveUser([big, lower], ''), { uid: 0, gid: 0, groups: [], home: '/' });
});
