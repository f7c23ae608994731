/**
 * compare (src/diff/compare.ts): an overlay upper dir → OCI layer tar (+ the
 * overlay-form copy for the layer store). Table-driven by behaviour: each case
 * builds an upper dir by hand (mknod 0/0 whiteouts, trusted.overlay.opaque),
 * writes the layer, parses it back with TarReader and checks the entries; the
 * copy is checked against applyLayer's unpack of the same tar (round trip).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { writeLayer, writeLayerFile, layerStream, type CompareOptions } from '../../src/diff/compare.js';
import { TarReader, type TarEntry } from '../../src/diff/tarreader.js';
import { applyLayer } from '../../src/diff/apply.js';
import { native } from '../../src/native.js';

interface Parsed {
  entries: (TarEntry & { data: Buffer })[];
  bytes: Buffer;
}

function sandbox(t: { after(fn: () => void): void }): string {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-compare-'));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  fs.mkdirSync(path.join(base, 'upper'));
  return base;
}

function layerOf(upper: string, opts: CompareOptions = {}): Parsed {
  const chunks: Buffer[] = [];
  writeLayer(upper, (c) => chunks.push(Buffer.from(c)), opts);
  const bytes = Buffer.concat(chunks);
  const entries: Parsed['entries'] = [];
  const r = new TarReader((e) => {
    const rec = { ...e, data: Buffer.alloc(0) };
    entries.push(rec);
    const parts: Buffer[] = [];
    return { write: (c) => parts.push(Buffer.from(c)), end: () => (rec.data = Buffer.concat(parts)) };
  });
  r.push(bytes);
  r.finish();
  return { entries, bytes };
}

const names = (p: Parsed) => p.entries.map((e) => e.name);
const entry = (p: Parsed, name: string) => {
  const e = p.entries.find((x) => x.name === name);
  assert.ok(e, `no entry ${name} in ${names(p).join(', ')}`);
  return e;
};
const whiteout = (abs: string) => native().mknod(abs, fs.constants.S_IFCHR, 0, 0);
const opaque = (abs: string) => native().lsetxattr(abs, 'trusted.overlay.opaque', Buffer.from('y'), 0);

/** A summary of a tree (type, mode, owner, mtime, size/target, xattrs) to compare two trees. */
function treeSummary(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, r);
      const st = fs.lstatSync(abs);
      const x = native()
        .llistxattr(abs)
        .sort()
        .map((n) => `${n}=${native().lgetxattr(abs, n)?.toString('hex')}`);
      const extra = st.isSymbolicLink() ? fs.readlinkSync(abs) : st.isFile() ? fs.readFileSync(abs).toString('hex') : st.isCharacterDevice() ? `rdev${st.rdev}` : '';
      out.push(`${r} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${Math.floor(st.mtimeMs / 1000)} n${st.isDirectory() ? '' : st.nlink} ${extra} ${x.join(',')}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

describe('compare: upper dir → layer tar', () => {
  const cases: { name: string; build: (u: string) => void; check: (p: Parsed, u: string) => void; opts?: CompareOptions }[] = [
    {
      name: 'added file: regular entry with data, mode and owner',
      build: (u) => {
        fs.mkdirSync(path.join(u, 'etc'));
        fs.writeFileSync(path.join(u, 'etc/new'), 'hello');
        fs.chmodSync(path.join(u, 'etc/new'), 0o640);
        fs.chownSync(path.join(u, 'etc/new'), 1234, 5678);
      },
      check: (p) => {
        assert.deepEqual(names(p), ['etc/', 'etc/new']);
        const e = entry(p, 'etc/new');
        assert.equal(e.type, 'file');
        assert.equal(e.data.toString(), 'hello');
        assert.equal(e.mode, 0o640);
        assert.equal(e.uid, 1234);
        assert.equal(e.gid, 5678);
      },
    },
    {
      name: 'deleted file: overlay whiteout becomes an empty .wh. file',
      build: (u) => {
        fs.mkdirSync(path.join(u, 'bin'));
        whiteout(path.join(u, 'bin/gone'));
      },
      check: (p) => {
        assert.deepEqual(names(p), ['bin/', 'bin/.wh.gone']);
        const e = entry(p, 'bin/.wh.gone');
        assert.equal(e.type, 'file');
        assert.equal(e.size, 0);
      },
    },
    {
      name: 'deleted then recreated dir: opaque dir, marker, then only the new contents',
      build: (u) => {
        fs.mkdirSync(path.join(u, 'data'));
        opaque(path.join(u, 'data'));
        fs.writeFileSync(path.join(u, 'data/fresh'), 'x');
      },
      check: (p) => {
        assert.deepEqual(names(p), ['data/', 'data/.wh..wh..opq', 'data/fresh']);
        assert.equal(entry(p, 'data/').xattrs.size, 0, 'trusted.overlay.opaque is not copied as an xattr');
      },
    },
    {
      name: 'hardlink: first occurrence a file, later ones tar hardlinks',
      build: (u) => {
        fs.writeFileSync(path.join(u, 'a'), 'same');
        fs.linkSync(path.join(u, 'a'), path.join(u, 'b'));
        fs.linkSync(path.join(u, 'a'), path.join(u, 'c'));
      },
      check: (p) => {
        assert.deepEqual(names(p), ['a', 'b', 'c']);
        assert.equal(entry(p, 'a').type, 'file');
        assert.equal(entry(p, 'b').type, 'link');
        assert.equal(entry(p, 'b').linkname, 'a');
        assert.equal(entry(p, 'c').linkname, 'a');
      },
    },
    {
      name: 'setuid, setgid and sticky bits are kept',
      build: (u) => {
        fs.writeFileSync(path.join(u, 'su'), '');
        fs.chmodSync(path.join(u, 'su'), 0o4755);
        fs.mkdirSync(path.join(u, 'tmp'));
        fs.chmodSync(path.join(u, 'tmp'), 0o1777);
        fs.writeFileSync(path.join(u, 'sg'), '');
        fs.chmodSync(path.join(u, 'sg'), 0o2711);
      },
      check: (p) => {
        assert.equal(entry(p, 'su').mode, 0o4755);
        assert.equal(entry(p, 'sg').mode, 0o2711);
        assert.equal(entry(p, 'tmp/').mode, 0o1777);
      },
    },
    {
      name: 'fifo, symlink and char device keep their type, target and numbers',
      build: (u) => {
        native().mknod(path.join(u, 'pipe'), fs.constants.S_IFIFO | 0o644, 0, 0);
        fs.symlinkSync('../target/x', path.join(u, 'link'));
        native().mknod(path.join(u, 'null'), fs.constants.S_IFCHR | 0o666, 1, 3);
        fs.chmodSync(path.join(u, 'null'), 0o666); // mknod's mode is masked by the umask
      },
      check: (p) => {
        assert.equal(entry(p, 'pipe').type, 'fifo');
        assert.equal(entry(p, 'link').type, 'symlink');
        assert.equal(entry(p, 'link').linkname, '../target/x');
        const n = entry(p, 'null');
        assert.equal(n.type, 'char');
        assert.equal(n.devmajor, 1);
        assert.equal(n.devminor, 3);
        assert.equal(n.mode, 0o666);
      },
    },
    {
      name: 'xattrs: security.capability kept as pax SCHILY.xattr, trusted.overlay.* dropped',
      build: (u) => {
        fs.writeFileSync(path.join(u, 'ping'), 'bin');
        const cap = Buffer.from('0000000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep (v2)
        native().lsetxattr(path.join(u, 'ping'), 'security.capability', cap, 0);
        native().lsetxattr(path.join(u, 'ping'), 'trusted.overlay.origin', Buffer.from('zzz'), 0);
        native().lsetxattr(path.join(u, 'ping'), 'user.note', Buffer.from('hi'), 0);
      },
      check: (p) => {
        const e = entry(p, 'ping');
        assert.deepEqual([...e.xattrs.keys()].sort(), ['security.capability', 'user.note']);
        assert.equal(e.xattrs.get('security.capability')!.toString('hex'), '0000000200200000000000000000000000000000');
      },
    },
    {
      name: 'mtime: integer seconds of the file',
      build: (u) => {
        fs.writeFileSync(path.join(u, 'old'), '');
        fs.utimesSync(path.join(u, 'old'), 1000000000.75, 1000000000.75);
      },
      check: (p) => assert.equal(entry(p, 'old').mtime, 1000000000),
    },
    {
      name: 'clampMtime: later mtimes become the clamp, earlier ones stay',
      opts: { clampMtime: 1500000000 },
      build: (u) => {
        fs.writeFileSync(path.join(u, 'new'), '');
        fs.writeFileSync(path.join(u, 'old'), '');
        fs.utimesSync(path.join(u, 'old'), 1000000000, 1000000000);
      },
      check: (p) => {
        assert.equal(entry(p, 'new').mtime, 1500000000);
        assert.equal(entry(p, 'old').mtime, 1000000000);
      },
    },
    {
      name: 'exclude: excluded paths and everything below them are left out',
      opts: { exclude: new Set(['etc/hosts', 'vol']) },
      build: (u) => {
        fs.mkdirSync(path.join(u, 'etc'));
        fs.writeFileSync(path.join(u, 'etc/hosts'), '');
        fs.writeFileSync(path.join(u, 'etc/keep'), '');
        fs.mkdirSync(path.join(u, 'vol/sub'), { recursive: true });
      },
      check: (p) => assert.deepEqual(names(p), ['etc/', 'etc/keep']),
    },
    {
      name: 'sorted by byte order, parents before children, long names via pax',
      build: (u) => {
        const long = 'x'.repeat(120);
        fs.mkdirSync(path.join(u, 'b'));
        fs.writeFileSync(path.join(u, 'b/' + long), 'L');
        fs.writeFileSync(path.join(u, 'B'), '');
        fs.writeFileSync(path.join(u, 'a'), '');
        whiteout(path.join(u, 'c'));
      },
      check: (p) => assert.deepEqual(names(p), ['.wh.c', 'B', 'a', 'b/', 'b/' + 'x'.repeat(120)]),
    },
  ];

  for (const c of cases) {
    test(c.name, (t) => {
      const base = sandbox(t);
      const upper = path.join(base, 'upper');
      c.build(upper);
      c.check(layerOf(upper, c.opts), upper);
    });
  }

  test('untouched dirs holding only excluded entries are pruned when the lower has them', (t) => {
    const base = sandbox(t);
    const upper = path.join(base, 'upper');
    const lower = path.join(base, 'lower');
    fs.mkdirSync(path.join(lower, 'etc'), { recursive: true });
    fs.mkdirSync(path.join(upper, 'etc'));
    fs.writeFileSync(path.join(upper, 'etc/hostname'), '');
    const p = layerOf(upper, { exclude: new Set(['etc/hostname']), lowers: [lower] });
    assert.deepEqual(names(p), []);
    fs.chmodSync(path.join(upper, 'etc'), 0o700); // a real change to the dir keeps it
    assert.deepEqual(names(layerOf(upper, { exclude: new Set(['etc/hostname']), lowers: [lower] })), ['etc/']);
  });

  test('same tree → same bytes, twice; and writeLayerFile/layerStream agree', async (t) => {
    const base = sandbox(t);
    const upper = path.join(base, 'upper');
    fs.mkdirSync(path.join(upper, 'd/e'), { recursive: true });
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(upper, `d/e/f${i}`), Buffer.alloc(i * 100, i));
    whiteout(path.join(upper, 'd/w'));
    const a = layerOf(upper).bytes;
    const b = layerOf(upper).bytes;
    assert.ok(a.equals(b));
    const file = path.join(base, 'layer.tar');
    const r = writeLayerFile(upper, file);
    assert.ok(fs.readFileSync(file).equals(a));
    assert.equal(r.size, a.length);
    const s = layerStream(upper);
    const chunks: Buffer[] = [];
    for await (const c of s.stream) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(a));
    assert.equal((await s.result).diffId, r.diffId);
  });

  test('round trip: the copy in overlay form equals applyLayer of the tar', async (t) => {
    const base = sandbox(t);
    const upper = path.join(base, 'upper');
    fs.mkdirSync(path.join(upper, 'data'));
    opaque(path.join(upper, 'data'));
    fs.writeFileSync(path.join(upper, 'data/f'), 'data');
    fs.chownSync(path.join(upper, 'data/f'), 7, 8);
    fs.chmodSync(path.join(upper, 'data/f'), 0o4750);
    native().lsetxattr(path.join(upper, 'data/f'), 'security.capability', Buffer.from('0000000200200000000000000000000000000000', 'hex'), 0);
    fs.linkSync(path.join(upper, 'data/f'), path.join(upper, 'hl'));
    fs.mkdirSync(path.join(upper, 'bin'));
    whiteout(path.join(upper, 'bin/rm'));
    fs.symlinkSync('data/f', path.join(upper, 'sl'));
    native().mknod(path.join(upper, 'fifo'), fs.constants.S_IFIFO | 0o600, 0, 0);
    for (const rel of ['data/f', 'data', 'bin', 'fifo']) fs.utimesSync(path.join(upper, rel), 1600000000, 1600000000);
    fs.lutimesSync(path.join(upper, 'sl'), 1600000000, 1600000000);

    const applied = path.join(base, 'applied');
    fs.mkdirSync(applied);
    const tar = path.join(base, 'l.tar');
    writeLayerFile(upper, tar);
    await applyLayer(fs.createReadStream(tar), applied);
    // the upper dir is already in overlay form: unpacking its layer must give it back
    // (but for a whiteout's mtime, which overlay ignores and apply does not set)
    const noWhiteoutTime = (lines: string[]) => lines.map((l) => l.replace(/^(\S+ 20000 \S+) \d+ /, '$1 - '));
    assert.deepEqual(noWhiteoutTime(treeSummary(applied)), noWhiteoutTime(treeSummary(upper)));
    assert.equal(native().lgetxattr(path.join(applied, 'data'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.ok(fs.lstatSync(path.join(applied, 'bin/rm')).isCharacterDevice());
    assert.equal(fs.lstatSync(path.join(applied, 'hl')).ino, fs.lstatSync(path.join(applied, 'data/f')).ino);
  });

  test('plain mode (squash view): char devices 0/0 are devices, not whiteouts', (t) => {
    const base = sandbox(t);
    const upper = path.join(base, 'upper');
    whiteout(path.join(upper, 'weird'));
    assert.deepEqual(names(layerOf(upper, { mode: 'plain' })), ['weird']);
    assert.equal(layerOf(upper, { mode: 'plain' }).entries[0]!.type, 'char');
  });

  test('an empty upper gives an empty layer (end marker only)', (t) => {
    const base = sandbox(t);
    const p = layerOf(path.join(base, 'upper'));
    assert.equal(p.entries.length, 0);
    assert.equal(p.bytes.length, 1024);
    void Readable;
  });
});
