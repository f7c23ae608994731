/**
 * The native addon against the real kernel (runs as root): each test names
 * one behaviour of NativeAddon in src/native.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { native, MS, MNT_DETACH, LOCK, XATTR_CREATE, XATTR_REPLACE, FS_TOPDIR_FL } from '../../src/native.js';
import { spawnSync } from 'node:child_process';

const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;

function tmpdir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-native-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function isMountpoint(dir: string): boolean {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === dir);
}

/** Asserts fn throws a Node-style errno error with this code and syscall. */
function assertErrno(fn: () => unknown, code: string, syscall: string, p?: string): NodeJS.ErrnoException {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error, 'expected an Error to be thrown');
  const e = caught as NodeJS.ErrnoException;
  assert.equal(e.code, code);
  assert.equal(e.syscall, syscall);
  assert.equal(typeof e.errno, 'number');
  assert.equal(e.errno, -(os.constants.errno as Record<string, number>)[code]);
  if (p !== undefined) {
    assert.equal(e.path, p);
    assert.ok(e.message.startsWith(`${code}: `), e.message);
    assert.ok(e.message.includes(`${syscall} '${p}'`), e.message);
  }
  return e;
}

test('xattr: set, get, list and remove in the user and trusted namespaces', (t) => {
  const n = native();
  const file = path.join(tmpdir(t), 'f');
  fs.writeFileSync(file, 'x');

  n.lsetxattr(file, 'user.tsrun', Buffer.from('hello'), 0);
  n.lsetxattr(file, 'trusted.overlay.opaque', Buffer.from('y'), XATTR_CREATE);
  n.lsetxattr(file, 'user.empty', Buffer.alloc(0), 0);
  n.lsetxattr(file, 'user.big', Buffer.alloc(3000, 7), 0);

  assert.deepEqual(n.lgetxattr(file, 'user.tsrun'), Buffer.from('hello'));
  assert.deepEqual(n.lgetxattr(file, 'trusted.overlay.opaque'), Buffer.from('y'));
  assert.deepEqual(n.lgetxattr(file, 'user.empty'), Buffer.alloc(0));
  assert.deepEqual(n.lgetxattr(file, 'user.big'), Buffer.alloc(3000, 7));
  assert.deepEqual(
    n.llistxattr(file).sort(),
    ['trusted.overlay.opaque', 'user.big', 'user.empty', 'user.tsrun'],
  );

  n.lsetxattr(file, 'user.tsrun', Buffer.from('bye'), XATTR_REPLACE);
  assert.deepEqual(n.lgetxattr(file, 'user.tsrun'), Buffer.from('bye'));
  assertErrno(() => n.lsetxattr(file, 'user.tsrun', Buffer.from('z'), XATTR_CREATE), 'EEXIST', 'lsetxattr', file);

  n.lremovexattr(file, 'user.tsrun');
  n.lremovexattr(file, 'trusted.overlay.opaque');
  assert.deepEqual(n.llistxattr(file).sort(), ['user.big', 'user.empty']);
  assertErrno(() => n.lremovexattr(file, 'user.tsrun'), 'ENODATA', 'lremovexattr', file);
});

test('xattr: lgetxattr of a missing attribute returns null', (t) => {
  const file = path.join(tmpdir(t), 'f');
  fs.writeFileSync(file, '');
  assert.equal(native().lgetxattr(file, 'user.nope'), null);
  assert.deepEqual(native().llistxattr(file), []);
});

test('xattr: a missing file throws ENOENT with the path', (t) => {
  const file = path.join(tmpdir(t), 'missing');
  assertErrno(() => native().lgetxattr(file, 'user.x'), 'ENOENT', 'lgetxattr', file);
  assertErrno(() => native().llistxattr(file), 'ENOENT', 'llistxattr', file);
});

test('xattr: l* calls act on a symlink itself, not its target', (t) => {
  const dir = tmpdir(t);
  const target = path.join(dir, 'target');
  const link = path.join(dir, 'link');
  fs.writeFileSync(target, '');
  fs.symlinkSync(target, link);
  native().lsetxattr(link, 'trusted.tsrun', Buffer.from('L'), 0);
  assert.deepEqual(native().lgetxattr(link, 'trusted.tsrun'), Buffer.from('L'));
  assert.equal(native().lgetxattr(target, 'trusted.tsrun'), null);
});

test('mknod: creates a 0/0 char device (overlay whiteout) and a fifo', (t) => {
  const dir = tmpdir(t);
  const wh = path.join(dir, 'wh');
  const fifo = path.join(dir, 'fifo');
  native().mknod(wh, S_IFCHR | 0o644, 0, 0);
  native().mknod(fifo, S_IFIFO | 0o600, 0, 0);

  const st = fs.lstatSync(wh);
  assert.ok(st.isCharacterDevice());
  assert.equal(st.rdev, 0);
  assert.ok(fs.lstatSync(fifo).isFIFO());
  assertErrno(() => native().mknod(fifo, S_IFIFO | 0o600, 0, 0), 'EEXIST', 'mknod', fifo);
});

test('mknod: a char device keeps its major and minor', (t) => {
  const dev = path.join(tmpdir(t), 'null');
  native().mknod(dev, S_IFCHR | 0o666, 1, 3);
  assert.equal(fs.lstatSync(dev).rdev, (1 << 8) | 3);
});

test('flock: an exclusive lock makes a second LOCK_NB attempt return false', (t) => {
  const file = path.join(tmpdir(t), 'lock');
  fs.writeFileSync(file, '');
  const fd1 = fs.openSync(file, 'r');
  const fd2 = fs.openSync(file, 'r');
  try {
    assert.equal(native().flock(fd1, LOCK.EX), true);
    assert.equal(native().flock(fd2, LOCK.EX | LOCK.NB), false);
    assert.equal(native().flock(fd2, LOCK.SH | LOCK.NB), false);
    assert.equal(native().flock(fd1, LOCK.UN), true);
    assert.equal(native().flock(fd2, LOCK.EX | LOCK.NB), true);
  } finally {
    fs.closeSync(fd1);
    fs.closeSync(fd2);
  }
});

test('flock: a bad fd throws EBADF', () => {
  assertErrno(() => native().flock(987654, LOCK.EX | LOCK.NB), 'EBADF', 'flock');
});

test('mount: tmpfs on a directory, then umount2', (t) => {
  const dir = tmpdir(t);
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  native().mount('tmpfs', mnt, 'tmpfs', MS.NOSUID | MS.NODEV, 'size=1m,mode=0755');
  try {
    assert.ok(isMountpoint(mnt));
    fs.writeFileSync(path.join(mnt, 'in-tmpfs'), 'x');
  } finally {
    native().umount2(mnt, MNT_DETACH);
  }
  assert.ok(!isMountpoint(mnt));
  assert.ok(!fs.existsSync(path.join(mnt, 'in-tmpfs')));
});

test('mount: a bind mount with a null fstype and data', (t) => {
  const dir = tmpdir(t);
  const src = path.join(dir, 'src');
  const dst = path.join(dir, 'dst');
  fs.mkdirSync(src);
  fs.mkdirSync(dst);
  fs.writeFileSync(path.join(src, 'f'), 'bound');
  native().mount(src, dst, null, MS.BIND, null);
  try {
    assert.equal(fs.readFileSync(path.join(dst, 'f'), 'utf8'), 'bound');
  } finally {
    native().umount2(dst, 0);
  }
});

test('mount: failures throw a Node-style error with code, errno, syscall and path', (t) => {
  const missing = path.join(tmpdir(t), 'no', 'such', 'dir');
  const e = assertErrno(() => native().mount('tmpfs', missing, 'tmpfs', 0, null), 'ENOENT', 'mount', missing);
  assert.equal(e.message, `ENOENT: no such file or directory, mount '${missing}'`);
  const notMounted = tmpdir(t);
  assertErrno(() => native().umount2(notMounted, 0), 'EINVAL', 'umount2', notMounted);
});

test('arguments of the wrong type throw a TypeError', () => {
  const n = native() as unknown as Record<string, (...args: unknown[]) => unknown>;
  assert.throws(() => n.mount(null, 42, null, 0, null), TypeError);
  assert.throws(() => n.lsetxattr('/tmp', 'user.x', 'not a buffer', 0), TypeError);
  assert.throws(() => n.mountOverlay('/tmp', { lowerdirs: 'a:b' }), TypeError);
});

/** Three lower layers, topmost first, plus an upper and work dir. */
function overlayFixture(dir: string) {
  const lowers = ['l1', 'l2', 'l3'].map((name) => path.join(dir, name));
  for (const l of lowers) fs.mkdirSync(l);
  fs.writeFileSync(path.join(lowers[0], 'shadowed'), 'from l1');
  fs.writeFileSync(path.join(lowers[1], 'shadowed'), 'from l2');
  fs.writeFileSync(path.join(lowers[2], 'shadowed'), 'from l3');
  fs.writeFileSync(path.join(lowers[1], 'only-l2'), 'l2');
  fs.writeFileSync(path.join(lowers[2], 'only-l3'), 'l3');
  fs.mkdirSync(path.join(lowers[2], 'sub'));
  fs.writeFileSync(path.join(lowers[2], 'sub', 'deep'), 'deep');
  const upper = path.join(dir, 'upper');
  const work = path.join(dir, 'work');
  const merged = path.join(dir, 'merged');
  for (const d of [upper, work, merged]) fs.mkdirSync(d);
  return { lowers, upper, work, merged };
}

test('mountOverlay: three lowerdirs stack topmost first, writes go to upper', (t) => {
  const { lowers, upper, work, merged } = overlayFixture(tmpdir(t));
  native().mountOverlay(merged, {
    lowerdirs: lowers,
    upperdir: upper,
    workdir: work,
    options: { redirect_dir: 'off', metacopy: 'off', index: 'off' },
  });
  try {
    assert.ok(isMountpoint(merged));
    assert.deepEqual(fs.readdirSync(merged).sort(), ['only-l2', 'only-l3', 'shadowed', 'sub']);
    assert.equal(fs.readFileSync(path.join(merged, 'shadowed'), 'utf8'), 'from l1');
    assert.equal(fs.readFileSync(path.join(merged, 'only-l2'), 'utf8'), 'l2');
    assert.equal(fs.readFileSync(path.join(merged, 'sub', 'deep'), 'utf8'), 'deep');

    fs.writeFileSync(path.join(merged, 'new'), 'written');
    fs.unlinkSync(path.join(merged, 'only-l3'));
    assert.equal(fs.readFileSync(path.join(upper, 'new'), 'utf8'), 'written');
    // The deletion shows up in upper as a 0/0 char device whiteout.
    const wh = fs.lstatSync(path.join(upper, 'only-l3'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0);
    assert.ok(fs.existsSync(path.join(lowers[2], 'only-l3')));
  } finally {
    native().umount2(merged, 0);
  }
  assert.ok(!isMountpoint(merged));
});

test('mountOverlay: readonly with lowerdirs only', (t) => {
  const { lowers, merged } = overlayFixture(tmpdir(t));
  native().mountOverlay(merged, { lowerdirs: lowers, readonly: true });
  try {
    assert.equal(fs.readFileSync(path.join(merged, 'shadowed'), 'utf8'), 'from l1');
    assert.throws(() => fs.writeFileSync(path.join(merged, 'x'), 'x'), { code: 'EROFS' });
  } finally {
    native().umount2(merged, 0);
  }
});

test('mountOverlay: a flag option given as an empty string', (t) => {
  const { lowers, upper, work, merged } = overlayFixture(tmpdir(t));
  native().mountOverlay(merged, { lowerdirs: lowers, upperdir: upper, workdir: work, options: { userxattr: '' } });
  try {
    assert.equal(fs.readFileSync(path.join(merged, 'shadowed'), 'utf8'), 'from l1');
    assert.ok(fs.readFileSync('/proc/self/mountinfo', 'utf8').includes('userxattr'));
  } finally {
    native().umount2(merged, 0);
  }
});

test('mountOverlay: a missing lowerdir throws ENOENT naming the layer', (t) => {
  const { lowers, upper, work, merged } = overlayFixture(tmpdir(t));
  const missing = path.join(path.dirname(merged), 'missing-layer');
  const e = assertErrno(
    () => native().mountOverlay(merged, { lowerdirs: [lowers[0], missing], upperdir: upper, workdir: work }),
    'ENOENT',
    'fsconfig',
    merged,
  );
  assert.ok(e.message.includes(`lowerdir+=${missing}`), e.message);
  assert.ok(!isMountpoint(merged));
});

test('mountOverlay: an unknown option fails with EINVAL and the kernel fs-context log', (t) => {
  const { lowers, merged } = overlayFixture(tmpdir(t));
  const e = assertErrno(
    () => native().mountOverlay(merged, { lowerdirs: lowers, options: { no_such_option: 'on' } }),
    'EINVAL',
    'fsconfig',
    merged,
  );
  assert.ok(e.message.includes('no_such_option=on'), e.message);
  assert.ok(e.message.includes("e overlay: Unknown parameter 'no_such_option'"), e.message);
  assert.ok(!isMountpoint(merged));
});

test('addInodeFlags: sets the ext4 top-dir hint (chattr +T) on an ext4 dir; a tmpfs refuses inode flags', (t) => {
  const dir = fs.mkdtempSync(path.join('/var/tmp', 'tsrun-flags-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  if (fs.statfsSync(dir).type === 0xef53) {
    native().addInodeFlags(dir, FS_TOPDIR_FL);
    const attrs = spawnSync('lsattr', ['-d', dir], { encoding: 'utf8' }).stdout.split(' ')[0]!;
    assert.match(attrs, /T/);
  }
  const mnt = path.join(dir, 'tmpfs');
  fs.mkdirSync(mnt);
  native().mount('tmpfs', mnt, 'tmpfs', 0, 'size=1m');
  try {
    assert.throws(() => native().addInodeFlags(mnt, FS_TOPDIR_FL), (e: NodeJS.ErrnoException) => typeof e.code === 'string' && e.syscall!.startsWith('ioctl'));
  } finally {
    native().umount2(mnt, MNT_DETACH);
  }
});

/** writeFiles' arguments for files given as [path, data pieces, uid, gid, mode, atime, mtime]. */
function batchArgs(files: [string, string[], number, number, number, number, number][]): [Buffer, Float64Array, Buffer[]] {
  const meta = new Float64Array(files.length * 8);
  const bufs: Buffer[] = [];
  let paths = '';
  files.forEach(([p, data, uid, gid, mode, atime, mtime], i) => {
    meta.set([paths.length, p.length, data.length, uid, gid, mode, atime, mtime], i * 8);
    paths += p + '\0';
    for (const d of data) bufs.push(Buffer.from(d));
  });
  return [Buffer.from(paths, 'latin1'), meta, bufs];
}

function writeFiles(args: [Buffer, Float64Array, Buffer[]]): Promise<number[][]> {
  return new Promise((resolve) =>
    native().writeFiles(...args, (failures) => {
      const out: number[][] = [];
      for (let k = 0; failures && k < failures.length; k += 3) out.push([failures[k]!, failures[k + 1]!, failures[k + 2]!]);
      resolve(out);
    }),
  );
}

test('writeFiles: creates each file with its data, owner, mode (setuid kept) and times; failures are per file', async (t) => {
  const dir = tmpdir(t);
  fs.writeFileSync(path.join(dir, 'exists'), 'old');
  const failures = await writeFiles(
    batchArgs([
      [path.join(dir, 'a'), ['hello ', 'world'], 1000, 100, 0o4755, 1_600_000_000.25, 1_500_000_000.1234567],
      [path.join(dir, 'exists'), ['new'], 0, 0, 0o644, 0, 0],
      [path.join(dir, 'nul') + '\0x', ['z'], 0, 0, 0o644, 0, 0],
      [path.join(dir, 'missing-dir', 'b'), ['z'], 0, 0, 0o644, 0, 0],
      [path.join(dir, 'empty'), [], 7, 8, 0o600, 5, 6],
    ]),
  );
  // [index, errno, step]: open (0) failed with EEXIST, EINVAL (a NUL inside the path), ENOENT
  const E = os.constants.errno;
  assert.deepEqual(failures, [
    [1, E.EEXIST, 0],
    [2, E.EINVAL, 0],
    [3, E.ENOENT, 0],
  ]);
  // microseconds, as node:fs's futimes sets them (before the read below updates the atime)
  const big = fs.lstatSync(path.join(dir, 'a'), { bigint: true });
  assert.equal(big.atimeNs, 1_600_000_000_250_000_000n);
  assert.equal(big.mtimeNs, 1_500_000_000_123_456_000n);
  const a = fs.lstatSync(path.join(dir, 'a'));
  assert.deepEqual([a.uid, a.gid, a.mode & 0o7777], [1000, 100, 0o4755]);
  assert.equal(fs.readFileSync(path.join(dir, 'a'), 'utf8'), 'hello world');
  assert.equal(fs.readFileSync(path.join(dir, 'exists'), 'utf8'), 'old');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['a', 'empty', 'exists']);
  const e = fs.lstatSync(path.join(dir, 'empty'));
  assert.deepEqual([e.size, e.uid, e.gid, e.mode & 0o7777, e.mtimeMs], [0, 7, 8, 0o600, 6000]);
});

test('writeFiles: never follows a symlink at the name; bad arguments throw a TypeError', async (t) => {
  const dir = tmpdir(t);
  fs.symlinkSync(path.join(dir, 'target'), path.join(dir, 'link'));
  assert.deepEqual(await writeFiles(batchArgs([[path.join(dir, 'link'), ['x'], 0, 0, 0o644, 0, 0]])), [[0, os.constants.errno.EEXIST, 0]]);
  assert.equal(fs.existsSync(path.join(dir, 'target')), false);
  const [paths, meta, bufs] = batchArgs([[path.join(dir, 'f'), ['x'], 0, 0, 0o644, 0, 0]]);
  assert.throws(() => native().writeFiles(paths, meta.subarray(0, 7), bufs, () => {}), TypeError);
  assert.throws(() => native().writeFiles(paths, meta, [], () => {}), TypeError);
  meta[1] = paths.length + 5; // a path running past the paths buffer
  assert.throws(() => native().writeFiles(paths, meta, bufs, () => {}), TypeError);
  assert.equal(fs.existsSync(path.join(dir, 'f')), false);
});
