/**
 * Layers that docker and containerd accept and tsrun once refused (issue 10
 * item 3), names kept as bytes (item 2), and deep trees (item 1): unpacked
 * within MAX_DEPTH, refused past it with a short message, and removed and
 * walked at any depth without recursion.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { applyLayer, MAX_DEPTH } from '../../src/diff/apply.js';
import { TsrunError } from '../../src/util/errors.js';
import { removeTree, removeTreeTolerant } from '../../src/util/rmtree.js';
import { walkTree } from '../../src/diff/walk.js';
import { buildTar, rawEntry, paxHeader, octalField, TAR_END, type FixtureEntry } from './tarfixture.js';

function sandbox(t: { after(fn: () => void): void }): { base: string; dest: string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-compat-'));
  t.after(() => removeTree(base));
  const dest = path.join(base, 'dest');
  fs.mkdirSync(dest);
  return { base, dest };
}

function chunked(buf: Buffer, size = 700): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts, { objectMode: false });
}

async function apply(dest: string, tar: FixtureEntry[] | Buffer) {
  return applyLayer(chunked(Buffer.isBuffer(tar) ? tar : await buildTar(tar)), dest);
}

async function refusal(dest: string, tar: FixtureEntry[] | Buffer): Promise<TsrunError> {
  try {
    await apply(dest, tar);
  } catch (err) {
    assert.ok(err instanceof TsrunError, `a TsrunError: ${String(err)}`);
    return err;
  }
  assert.fail('should have been refused');
}

/** 'abc', a hole, 'de', a trailing hole: 16 bytes. */
const SPARSE_CONTENT = Buffer.concat([Buffer.from('abc'), Buffer.alloc(7), Buffer.from('de'), Buffer.alloc(4)]);

describe('legitimate layers docker and containerd accept', () => {
  test('a directory listed twice takes the later metadata', async (t) => {
    const { dest } = sandbox(t);
    await apply(dest, [
      { name: 'd/', mode: 0o700 },
      { name: 'd/f', content: 'x' },
      { name: './d/', mode: 0o751, uid: 7 },
    ]);
    const st = fs.statSync(path.join(dest, 'd'));
    assert.equal(st.mode & 0o7777, 0o751);
    assert.equal(st.uid, 7);
    assert.equal(fs.readFileSync(path.join(dest, 'd/f'), 'utf8'), 'x');
  });

  test('a hardlink to a symlink links the symlink itself', async (t) => {
    const { dest } = sandbox(t);
    await apply(dest, [
      { name: 's', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'h', type: 'link', linkname: 's' },
    ]);
    const s = fs.lstatSync(path.join(dest, 's'));
    const h = fs.lstatSync(path.join(dest, 'h'));
    assert.ok(h.isSymbolicLink());
    assert.equal(h.ino, s.ino);
    assert.equal(fs.readlinkSync(path.join(dest, 'h')), '/etc/passwd');
  });

  test('a hardlink to a fifo of the layer', async (t) => {
    const { dest } = sandbox(t);
    await apply(dest, [
      { name: 'p', type: 'fifo' },
      { name: 'q', type: 'link', linkname: 'p' },
    ]);
    assert.equal(fs.lstatSync(path.join(dest, 'q')).ino, fs.lstatSync(path.join(dest, 'p')).ino);
  });

  test('AUFS metadata is skipped; hardlinks into .wh..wh.plnk get the file', async (t) => {
    const { dest } = sandbox(t);
    await apply(dest, [
      { name: '.wh..wh.aufs', content: '' },
      { name: '.wh..wh.orph/', type: 'dir' },
      { name: '.wh..wh.plnk/', type: 'dir' },
      { name: '.wh..wh.plnk/260.1234', content: 'shared inode', mode: 0o750 },
      { name: 'bin/', type: 'dir' },
      { name: 'bin/a', type: 'link', linkname: '.wh..wh.plnk/260.1234' },
      { name: 'bin/b', type: 'link', linkname: '/.wh..wh.plnk/260.1234' },
      { name: 'd/.wh..wh.aufs', content: '' },
    ]);
    assert.deepEqual(fs.readdirSync(dest).sort(), ['bin'], 'no AUFS metadata, no hardlink store left');
    assert.equal(fs.readFileSync(path.join(dest, 'bin/a'), 'utf8'), 'shared inode');
    assert.equal(fs.statSync(path.join(dest, 'bin/a')).mode & 0o777, 0o750);
    assert.equal(fs.statSync(path.join(dest, 'bin/a')).ino, fs.statSync(path.join(dest, 'bin/b')).ino);
  });

  test('GNU sparse files: pax 0.0, 0.1, 1.0 and old GNU headers', async (t) => {
    const { dest } = sandbox(t);
    // 0.0: repeated offset/numbytes records, in order (a record object cannot repeat a key: the body by hand)
    const rec = (k: string, v: string) => {
      const rest = ` ${k}=${v}\n`;
      let n = rest.length + String(rest.length).length;
      n = rest.length + String(n).length;
      return `${n}${rest}`;
    };
    const body00 = [['GNU.sparse.size', '16'], ['GNU.sparse.numblocks', '2'], ['GNU.sparse.offset', '0'], ['GNU.sparse.numbytes', '3'], ['GNU.sparse.offset', '10'], ['GNU.sparse.numbytes', '2']]
      .map(([k, v]) => rec(k!, v!))
      .join('');
    const pax00 = rawEntry({ name: 'PaxHeaders/s00', typeflag: 'x' }, body00);
    const map1 = Buffer.alloc(512);
    map1.write('2\n0\n3\n10\n2\n');
    const gnuS = rawEntry(
      {
        name: 's-gnu',
        typeflag: 'S',
        format: 'gnu',
        fill: (b) => {
          b.write(octalField(0, 12), 386, 'latin1');
          b.write(octalField(3, 12), 398, 'latin1');
          b.write(octalField(10, 12), 410, 'latin1');
          b.write(octalField(2, 12), 422, 'latin1');
          b.write(octalField(16, 12), 483, 'latin1');
        },
      },
      'abcde',
    );
    const tar = Buffer.concat([
      pax00,
      rawEntry({ name: 's00', typeflag: '0' }, 'abcde'),
      paxHeader({ 'GNU.sparse.major': '0', 'GNU.sparse.minor': '1', 'GNU.sparse.name': 's01', 'GNU.sparse.size': '16', 'GNU.sparse.numblocks': '2', 'GNU.sparse.map': '0,3,10,2' }),
      rawEntry({ name: 'GNUSparseFile.0/s01', typeflag: '0' }, 'abcde'),
      paxHeader({ 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 's10', 'GNU.sparse.realsize': '16' }),
      rawEntry({ name: 'GNUSparseFile.0/s10', typeflag: '0' }, Buffer.concat([map1, Buffer.from('abcde')])),
      gnuS,
      TAR_END,
    ]);
    await apply(dest, tar);
    assert.deepEqual(fs.readdirSync(dest).sort(), ['s-gnu', 's00', 's01', 's10']);
    for (const f of ['s-gnu', 's00', 's01', 's10']) assert.deepEqual(fs.readFileSync(path.join(dest, f)), SPARSE_CONTENT, f);
  });
});

describe('hardlinks to files of the layers below (copied up, as overlayfs does under containerd)', () => {
  async function layers(t: { after(fn: () => void): void }, lowerEntries: FixtureEntry[][]) {
    const { base } = sandbox(t);
    const dirs: string[] = [];
    for (const [i, entries] of lowerEntries.entries()) {
      const d = path.join(base, `l${i}`);
      fs.mkdirSync(d);
      await applyLayer(chunked(await buildTar(entries)), d);
      dirs.unshift(d); // topmost first
    }
    const dest = path.join(base, 'top');
    fs.mkdirSync(dest);
    return { dest, lowerDirs: async () => dirs };
  }

  test('the target is copied up with its metadata and parents, and linked', async (t) => {
    const { dest, lowerDirs } = await layers(t, [
      [
        { name: 'usr/', mode: 0o751, uid: 3 },
        { name: 'usr/bin/', mode: 0o755 },
        { name: 'usr/bin/tool', content: 'tool', mode: 0o4755, uid: 5, xattrs: { 'user.k': 'v' } },
        { name: 'a/', mode: 0o755 },
        { name: 'a/s', type: 'symlink', linkname: '../usr/bin/tool' },
      ],
      [{ name: 'other', content: 'o' }],
    ]);
    await applyLayer(
      chunked(
        await buildTar([
          { name: 'h', type: 'link', linkname: 'usr/bin/tool' },
          { name: 'h2', type: 'link', linkname: 'h' },
          { name: 'hs', type: 'link', linkname: '/a/s' },
        ]),
      ),
      dest,
      { lowerDirs },
    );
    const tool = fs.statSync(path.join(dest, 'usr/bin/tool'));
    assert.equal(fs.readFileSync(path.join(dest, 'h'), 'utf8'), 'tool');
    assert.equal(fs.statSync(path.join(dest, 'h')).ino, tool.ino);
    assert.equal(fs.statSync(path.join(dest, 'h2')).ino, tool.ino);
    assert.equal(tool.mode & 0o7777, 0o4755);
    assert.equal(tool.uid, 5);
    const usr = fs.statSync(path.join(dest, 'usr'));
    assert.equal(usr.mode & 0o7777, 0o751);
    assert.equal(usr.uid, 3);
    assert.equal(fs.lstatSync(path.join(dest, 'hs')).ino, fs.lstatSync(path.join(dest, 'a/s')).ino);
    assert.equal(fs.readlinkSync(path.join(dest, 'hs')), '../usr/bin/tool');
    assert.deepEqual(fs.readdirSync(dest).sort(), ['a', 'h', 'h2', 'hs', 'usr']);
  });

  test('a target whited out, hidden by an opaque dir, or behind a lower symlink is refused', async (t) => {
    const cases: { lowers: FixtureEntry[][]; top: FixtureEntry[]; code: string }[] = [
      { lowers: [[{ name: 'f', content: 'x' }], [{ name: '.wh.f' }]], top: [{ name: 'h', type: 'link', linkname: 'f' }], code: 'INVALID_ARCHIVE' },
      { lowers: [[{ name: 'd/f', content: 'x' }]], top: [{ name: 'd/.wh..wh..opq' }, { name: 'h', type: 'link', linkname: 'd/f' }], code: 'INVALID_ARCHIVE' },
      { lowers: [[{ name: 'd/f', content: 'x' }], [{ name: 'd/', mode: 0o755 }, { name: 'd/.wh..wh..opq' }]], top: [{ name: 'h', type: 'link', linkname: 'd/f' }], code: 'INVALID_ARCHIVE' },
      { lowers: [[{ name: 'real/f', content: 'x' }, { name: 'lib', type: 'symlink', linkname: 'real' }]], top: [{ name: 'h', type: 'link', linkname: 'lib/f' }], code: 'UNSAFE_PATH' },
      { lowers: [[{ name: 'f', content: 'x' }]], top: [{ name: '.wh.f' }, { name: 'h', type: 'link', linkname: 'f' }], code: 'INVALID_ARCHIVE' },
      { lowers: [[{ name: 'd/', mode: 0o755 }]], top: [{ name: 'h', type: 'link', linkname: 'd' }], code: 'INVALID_ARCHIVE' },
    ];
    for (const [i, c] of cases.entries()) {
      const { dest, lowerDirs } = await layers(t, c.lowers);
      let err: unknown;
      try {
        await applyLayer(chunked(await buildTar(c.top)), dest, { lowerDirs });
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof TsrunError, `case ${i} refused: ${String(err)}`);
      assert.equal(err.code, c.code, `case ${i}: ${err.message}`);
    }
  });
});

describe('names are bytes', () => {
  test('two Latin-1 names stay two files with their own bytes', async (t) => {
    const { dest } = sandbox(t);
    const e9 = Buffer.from('caf\xe9', 'latin1');
    const e8 = Buffer.from('caf\xe8', 'latin1');
    await apply(dest, Buffer.concat([rawEntry({ name: e9, typeflag: '0' }, 'e9'), rawEntry({ name: e8, typeflag: '0' }, 'e8'), TAR_END]));
    const names = fs.readdirSync(dest, { encoding: 'buffer' }).map((b) => b.toString('hex')).sort();
    assert.deepEqual(names, [e8.toString('hex'), e9.toString('hex')]);
    assert.equal(fs.readFileSync(Buffer.concat([Buffer.from(dest + '/'), e9]), 'utf8'), 'e9');
    // and the store can remove them again
    removeTree(dest);
    assert.equal(fs.existsSync(dest), false);
  });
});

describe('deep trees', () => {
  const chain = (n: number) => Array.from({ length: n }, () => 'a').join('/');

  test(`${MAX_DEPTH} levels unpack; ${MAX_DEPTH + 1} are refused in one short line`, async (t) => {
    const { dest } = sandbox(t);
    await apply(dest, [{ name: chain(MAX_DEPTH - 1) + '/f', content: 'deep' }]);
    assert.equal(fs.readFileSync(path.join(dest, chain(MAX_DEPTH - 1), 'f'), 'utf8'), 'deep');
    const dest2 = path.join(path.dirname(dest), 'dest2');
    fs.mkdirSync(dest2);
    const err = await refusal(dest2, [{ name: chain(MAX_DEPTH) + '/f', content: 'x' }]);
    assert.equal(err.code, 'INVALID_ARCHIVE');
    assert.match(err.message, new RegExp(`nested ${MAX_DEPTH + 1} directories deep`));
    assert.ok(err.message.length < 400, `short: ${err.message.length}`);
  });

  test('a 30,000-deep name is refused with a short message', async (t) => {
    const { dest } = sandbox(t);
    const err = await refusal(dest, [{ name: chain(30_000), content: 'x' }]);
    assert.ok(err.message.length < 400, `short: ${err.message.length}`);
    assert.ok(!err.message.includes('\n'));
  });

  test('a name longer than PATH_MAX is refused clearly', async (t) => {
    const { dest } = sandbox(t);
    const err = await refusal(dest, [{ name: Array.from({ length: 30 }, () => 'x'.repeat(200)).join('/'), content: 'x' }]);
    assert.match(err.message, /PATH_MAX/);
  });

  test('removeTree and walkTree handle a tree deeper than PATH_MAX without recursion', (t) => {
    const { base } = sandbox(t);
    // two 1,100-level chains, one moved into the other: 2,200 levels, paths of ~4.5 KB
    const top = path.join(base, 'top');
    const lower = path.join(top, chain(1100));
    fs.mkdirSync(lower, { recursive: true });
    fs.writeFileSync(path.join(lower, 'mid'), 'm');
    const second = path.join(base, 'second');
    fs.mkdirSync(path.join(second, chain(1099)), { recursive: true });
    fs.renameSync(second, path.join(lower, 'b'));
    // walkTree (commit, export, diff) reads through directory fds: no whole paths, no recursion, any depth
    let seen = 0;
    walkTree(top, { mode: 'plain' }, () => void seen++);
    assert.equal(seen, 1100 + 1 + 1 + 1099, 'every directory and the file');
    removeTree(top);
    assert.equal(fs.existsSync(top), false);
  });

  test('walkTree visits an 1,800-level tree in order', (t) => {
    const { base } = sandbox(t);
    const top = path.join(base, 'top');
    fs.mkdirSync(path.join(top, chain(1800)), { recursive: true });
    fs.writeFileSync(path.join(top, 'z'), 'z');
    const rels: string[] = [];
    walkTree(top, { mode: 'plain' }, (e) => void rels.push(e.rel));
    assert.equal(rels.length, 1801);
    assert.equal(rels[0], 'a');
    assert.equal(rels[1799], chain(1800));
    assert.equal(rels[1800], 'z');
  });

  test('removeTreeTolerant removes everything but an entry it cannot, and reports it', (t) => {
    const { base } = sandbox(t);
    const top = path.join(base, 'top');
    fs.mkdirSync(path.join(top, 'x/busy'), { recursive: true });
    fs.mkdirSync(path.join(top, 'y/z'), { recursive: true });
    fs.writeFileSync(path.join(top, 'x/f'), 'f');
    fs.writeFileSync(path.join(top, 'y/z/g'), 'g');
    const src = path.join(base, 'src');
    fs.mkdirSync(src);
    assert.equal(spawnSync('mount', ['--bind', src, path.join(top, 'x/busy')]).status, 0, 'bind mount');
    try {
      const { failed } = removeTreeTolerant(top);
      assert.equal(failed.length, 1);
      assert.equal(failed[0]!.error.code, 'EBUSY');
      assert.deepEqual(fs.readdirSync(top), ['x']);
      assert.deepEqual(fs.readdirSync(path.join(top, 'x')), ['busy']);
    } finally {
      spawnSync('umount', [path.join(top, 'x/busy')]);
    }
    removeTree(top);
    assert.equal(fs.existsSync(top), false);
  });
});
