/**
 * The addon's copyFilesStart/copyFilesWait (native/addon/copyfiles.c), cp's batched copy of
 * regular files, against the real kernel (runs as root): what it copies (data, mode with setuid,
 * owner, times), what it leaves to JS (gone, not a regular file, hard links, a directory at the
 * destination), and that no name is followed: a symlink at either end is never opened through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { native } from '../../src/native.js';
import { CF_CHANGED, CF_DST_DIR, CF_GONE, CF_HARDLINK } from '../../src/ops/cp/copy-batch.js';

function tmpdir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-copyfiles-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Copy names (src name = dst name, or [src, dst]) from srcDir to dstDir; the results as [index, errno, step]. */
function copyFiles(srcDir: string, dstDir: string, names: (string | [string, string])[], opts: { live?: boolean; owner?: 0 | 1 | 2; uid?: number; gid?: number; threads?: number } = {}): number[][] {
  const s = fs.openSync(srcDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const d = fs.openSync(dstDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    let buf = '';
    const meta = new Int32Array(names.length * 6);
    names.forEach((n, i) => {
      const [a, b] = typeof n === 'string' ? [n, n] : n;
      const ao = Buffer.byteLength(buf);
      buf += a + '\0';
      const bo = Buffer.byteLength(buf);
      buf += b + '\0';
      meta.set([s, ao, Buffer.byteLength(a), d, bo, Buffer.byteLength(b)], i * 6);
    });
    const h = native().copyFilesStart(Buffer.from(buf), meta, Float64Array.of(opts.live ? 1 : 0, opts.owner ?? 0, opts.uid ?? 0, opts.gid ?? 0, opts.threads ?? 2));
    const res = native().copyFilesWait(h);
    const out: number[][] = [];
    for (let k = 0; res && k < res.length; k += 3) out.push([res[k]!, res[k + 1]!, res[k + 2]!]);
    return out;
  } finally {
    fs.closeSync(s);
    fs.closeSync(d);
  }
}

test('copyFiles: data, mode (setuid kept), owner by policy, times to the microsecond; nothing else reported', (t) => {
  const dir = tmpdir(t);
  const src = path.join(dir, 'src');
  const dst = path.join(dir, 'dst');
  fs.mkdirSync(src);
  fs.mkdirSync(dst);
  const big = Buffer.alloc(600_000, 7); // more than one 256 KB read
  fs.writeFileSync(path.join(src, 'big'), big);
  fs.writeFileSync(path.join(src, 'suid'), 'x');
  fs.writeFileSync(path.join(src, 'empty'), '');
  fs.chownSync(path.join(src, 'suid'), 1234, 5678);
  fs.chmodSync(path.join(src, 'suid'), 0o4750);
  fs.utimesSync(path.join(src, 'suid'), 1_600_000_000.25, 1_500_000_000.1234567);
  for (const live of [false, true]) {
    for (const [owner, want] of [[0, '0:0'], [1, '1234:5678'], [2, '77:88']] as const) {
      const into = path.join(dst, `${live}-${owner}`);
      fs.mkdirSync(into);
      assert.deepEqual(copyFiles(src, into, ['big', 'suid', 'empty'], { live, owner, uid: 77, gid: 88 }), []);
      assert.ok(fs.readFileSync(path.join(into, 'big')).equals(big));
      assert.equal(fs.readFileSync(path.join(into, 'empty'), 'utf8'), '');
      const st = fs.statSync(path.join(into, 'suid'), { bigint: true });
      assert.equal(`${st.uid}:${st.gid}`, want);
      assert.equal(Number(st.mode & 0o7777n), 0o4750);
      assert.equal(st.mtimeNs, 1_500_000_000_123_456_000n);
    }
  }
});

test('copyFiles: gone, a symlink, a fifo, a hard link and a directory at the destination are left to JS; bad names refused', (t) => {
  const dir = tmpdir(t);
  const src = path.join(dir, 'src');
  const dst = path.join(dir, 'dst');
  fs.mkdirSync(src);
  fs.mkdirSync(dst);
  const outside = path.join(dir, 'outside');
  fs.writeFileSync(outside, 'OUTSIDE\n');
  fs.symlinkSync(outside, path.join(src, 'link'));
  assert.equal(spawnSync('mkfifo', [path.join(src, 'fifo')]).status, 0);
  fs.writeFileSync(path.join(src, 'hard'), 'h');
  fs.linkSync(path.join(src, 'hard'), path.join(src, 'hard2'));
  fs.writeFileSync(path.join(src, 'f'), 'f');
  fs.mkdirSync(path.join(dst, 'f'));
  const E = os.constants.errno;
  for (const live of [false, true]) {
    const names: (string | [string, string])[] = ['missing', 'link', 'fifo', 'hard', 'f', '..', ['f', 'a/b'], ['f', '.']];
    assert.deepEqual(copyFiles(src, dst, names, { live }), [
      [0, 0, CF_GONE],
      [1, 0, CF_CHANGED],
      [2, 0, CF_CHANGED],
      [3, 0, CF_HARDLINK],
      [4, 0, CF_DST_DIR],
      [5, E.EINVAL, 0],
      [6, E.EINVAL, 2],
      [7, E.EINVAL, 2],
    ]);
    assert.deepEqual(fs.readdirSync(dst).sort(), ['f']);
  }
  assert.equal(fs.readFileSync(outside, 'utf8'), 'OUTSIDE\n');
});

test('copyFiles: mode and owner end as the source says whatever the umask, an old file or a setgid directory gave', (t) => {
  const dir = tmpdir(t);
  const src = path.join(dir, 'src');
  const dst = path.join(dir, 'dst');
  fs.mkdirSync(src);
  fs.mkdirSync(dst);
  fs.writeFileSync(path.join(src, 'open'), 'o');
  fs.chmodSync(path.join(src, 'open'), 0o666); // the umask (022) cuts it at creation
  fs.writeFileSync(path.join(src, 'old'), 'n');
  fs.chmodSync(path.join(src, 'old'), 0o644);
  fs.writeFileSync(path.join(dst, 'old'), 'old content');
  fs.chownSync(path.join(dst, 'old'), 1, 2);
  fs.chmodSync(path.join(dst, 'old'), 0o4711);
  const sgid = path.join(dst, 'sgid');
  fs.mkdirSync(sgid);
  fs.chownSync(sgid, 0, 4321);
  fs.chmodSync(sgid, 0o2775); // new files get the directory's group
  const old = process.umask(0o022);
  try {
    assert.deepEqual(copyFiles(src, dst, ['open', 'old'], { owner: 2, uid: 0, gid: 0 }), []);
    assert.deepEqual(copyFiles(src, sgid, ['open'], { owner: 2, uid: 0, gid: 0 }), []);
  } finally {
    process.umask(old);
  }
  const show = (p: string) => {
    const st = fs.statSync(p);
    return `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`;
  };
  assert.equal(show(path.join(dst, 'open')), '0:0 666');
  assert.equal(show(path.join(dst, 'old')), '0:0 644');
  assert.equal(fs.readFileSync(path.join(dst, 'old'), 'utf8'), 'n');
  assert.equal(show(path.join(sgid, 'open')), '0:0 666');
});

test('copyFiles: at the destination a file is truncated and rewritten; a symlink (to a file outside) or a fifo is replaced, never followed', (t) => {
  const dir = tmpdir(t);
  const src = path.join(dir, 'src');
  const dst = path.join(dir, 'dst');
  fs.mkdirSync(src);
  fs.mkdirSync(dst);
  const outside = path.join(dir, 'outside');
  fs.writeFileSync(outside, 'OUTSIDE\n');
  for (const n of ['a', 'b', 'c', 'd']) fs.writeFileSync(path.join(src, n), `new ${n}\n`);
  fs.writeFileSync(path.join(dst, 'a'), 'a much longer old content\n');
  fs.symlinkSync(outside, path.join(dst, 'b'));
  fs.symlinkSync('../outside', path.join(dst, 'c'));
  assert.equal(spawnSync('mkfifo', [path.join(dst, 'd')]).status, 0);
  assert.deepEqual(copyFiles(src, dst, ['a', 'b', 'c', 'd'], { threads: 1 }), []);
  for (const n of ['a', 'b', 'c', 'd']) {
    assert.ok(fs.lstatSync(path.join(dst, n)).isFile(), n);
    assert.equal(fs.readFileSync(path.join(dst, n), 'utf8'), `new ${n}\n`);
  }
  assert.equal(fs.readFileSync(outside, 'utf8'), 'OUTSIDE\n');
});
