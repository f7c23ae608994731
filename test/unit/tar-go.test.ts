/**
 * Differential test: tsrun's tar reader (src/diff/tarreader.ts) against Go's
 * archive/tar, which docker, containerd and image scanners read layers with.
 * A small Go program (test/go/tarlist, standard library only) lists what Go
 * reads from a tar; the same listing is made from tsrun's reader, and the
 * two must be equal: names and link names as bytes, types, sizes, modes,
 * owners, mtimes, xattrs and the content's sha256, up to the first error.
 *
 * Go must be installed (scripts/setup.sh installs golang-1.23-go); without it
 * this test fails rather than skips. Tricky archives are built here; Go's own
 * test archives (archive/tar/testdata) are read too when the Go source is there.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TarReader } from '../../src/diff/tarreader.js';
import { rawEntry, paxHeader, gnuLong, octalField, TAR_END } from './tarfixture.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.resolve(here, '../../../test/go/tarlist/main.go');
const GO_CANDIDATES = ['/usr/lib/go-1.23/bin/go', '/usr/lib/go/bin/go', 'go'];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-tar-go-'));
const lister = path.join(work, 'tarlist');
let goroot = '';

before(() => {
  const go = GO_CANDIDATES.find((g) => spawnSync(g, ['version']).status === 0);
  assert.ok(go, 'Go is installed (scripts/setup.sh installs golang-1.23-go from bookworm-backports)');
  goroot = spawnSync(go, ['env', 'GOROOT'], { encoding: 'utf8' }).stdout.trim();
  const r = spawnSync(go, ['build', '-o', lister, SRC], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, GOTOOLCHAIN: 'local', GOPROXY: 'off', GOFLAGS: '', GO111MODULE: 'off' },
  });
  assert.equal(r.status, 0, `go build tarlist: ${r.stderr}`);
});
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));

type Row = Record<string, unknown>;
const FILE_TYPES = new Set(['0', '7', 'S']);
const TYPES: Record<string, string> = { '1': 'link', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

/** Go's listing, in tsrun's terms: `g` headers dropped, an unknown type is where tsrun stops with an error. */
function goList(file: string): Row[] {
  const r = spawnSync(lister, [file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `tarlist ${file}: ${r.stderr}`);
  const rows: Row[] = [];
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const e = JSON.parse(line) as Row;
    if (e.error !== undefined) return [...rows, { error: true }];
    if (e.type === 'g') continue;
    const t = e.type as string;
    const type = FILE_TYPES.has(t) ? 'file' : TYPES[t];
    if (!type) return [...rows, { error: true }]; // docker and containerd refuse these types; tsrun's reader does
    rows.push({
      name: e.name,
      link: e.link,
      type,
      size: type === 'file' ? e.size : 0,
      mode: (e.mode as number) & 0o7777,
      uid: e.uid,
      gid: e.gid,
      mtime: e.mtime,
      xattrs: e.xattrs,
      data: e.data,
    });
  }
  return rows;
}

/** tsrun's listing of the same file. */
function tsrunList(file: string): Row[] {
  const rows: Row[] = [];
  const reader = new TarReader((e) => {
    const hash = crypto.createHash('sha256');
    let pos = 0;
    const zeros = (n: number) => {
      for (; n > 0; n -= 65536) hash.update(Buffer.alloc(Math.min(n, 65536)));
    };
    const xattrs: Record<string, string> = {};
    for (const [k, v] of [...e.xattrs].sort(([a], [b]) => (a < b ? -1 : 1))) xattrs[k] = v.toString('hex');
    const row: Row = {
      name: Buffer.from(e.name, 'latin1').toString('hex'),
      link: Buffer.from(e.linkname, 'latin1').toString('hex'),
      type: e.type,
      size: e.size,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      mtime: Math.floor(e.mtime),
      xattrs,
    };
    return {
      write(chunk: Buffer, position: number) {
        zeros(position - pos);
        hash.update(chunk);
        pos = position + chunk.length;
      },
      end() {
        zeros(e.size - pos);
        rows.push({ ...row, data: hash.digest('hex') });
      },
    };
  });
  try {
    const buf = fs.readFileSync(file);
    for (let i = 0; i < buf.length; i += 1000) reader.push(buf.subarray(i, i + 1000));
    reader.finish();
  } catch {
    rows.push({ error: true });
  }
  return rows;
}

function same(name: string, tar: Buffer | string): void {
  const file = Buffer.isBuffer(tar) ? path.join(work, `${name}.tar`) : tar;
  if (Buffer.isBuffer(tar)) fs.writeFileSync(file, tar);
  const go = goList(file);
  assert.deepEqual(tsrunList(file), go, `${name}: tsrun reads what Go reads`);
}

const latin1 = (s: string) => Buffer.from(s, 'latin1');
const file = (name: string | Buffer, data = 'x', typeflag = '0') => rawEntry({ name, typeflag }, data);
const end = (...parts: Buffer[]) => Buffer.concat([...parts, TAR_END]);

const cases: Record<string, () => Buffer> = {
  'GNU long name then a global header': () => end(gnuLong('L', 'evil/long/name'), paxHeader({ comment: 'x' }, 'g'), file('plain')),
  'pax path then a global header': () => end(paxHeader({ path: 'hidden' }), paxHeader({ path: 'global' }, 'g'), file('shown')),
  'GNU long link then a global header': () => end(gnuLong('K', '/etc/shadow'), paxHeader({ comment: 'x' }, 'g'), rawEntry({ name: 's', typeflag: '2', linkname: 'ok' })),
  'a global header alone before a file': () => end(paxHeader({ path: 'g-path', mtime: '5' }, 'g'), file('f')),
  'Latin-1 names that differ in one byte': () => end(file(latin1('caf\xe9')), file(latin1('caf\xe8'))),
  'pax path that is not UTF-8': () => end(paxHeader({ path: latin1('na\xefve-\xff') }), file('short')),
  'GNU long name that is not UTF-8': () => end(gnuLong('L', latin1('x'.repeat(150) + '\xe9')), file('short')),
  'empty pax path keeps the header name': () => end(paxHeader({ path: '' }), file('header-name')),
  'empty GNU long name keeps the header name': () => end(gnuLong('L', ''), file('header-name')),
  'GNU long name wins over pax path': () => end(paxHeader({ path: 'from-pax' }), gnuLong('L', 'from-gnu'), file('from-header')),
  'two pax headers: the second replaces the first': () => end(paxHeader({ path: 'first', uid: '5' }), paxHeader({ gid: '6' }), file('header')),
  'ustar prefix': () =>
    end(rawEntry({ name: 'name', typeflag: '0', fill: (b) => b.write('pre/fix', 345, 'latin1') }, 'p')),
  'GNU header: the prefix area is not a prefix': () =>
    end(rawEntry({ name: 'name', typeflag: '0', format: 'gnu', fill: (b) => b.write(octalField(1_700_000_000, 12), 345, 'latin1') }, 'p')),
  'v7 header: no prefix, no devices': () => end(rawEntry({ name: 'v7file', typeflag: '0', format: 'v7', fill: (b) => b.write('ignored', 345, 'latin1') }, 'v')),
  'old regular type with a trailing slash is a directory': () => end(rawEntry({ name: 'd/', typeflag: '\0' })),
  'old regular type, pax path with a trailing slash': () => end(paxHeader({ path: 'pd/' }), rawEntry({ name: 'pd', typeflag: '\0' })),
  'directory with a size field and no data': () =>
    end(rawHeaderOnly('dir/', '5', 1024), file('after')),
  'pax size overrides the header': () => end(paxHeader({ size: '3' }), rawEntry({ name: 'f', typeflag: '0' }, 'abc')),
  'pax uid, gid, mtime with a fraction, xattrs (binary, empty)': () =>
    end(paxHeader({ uid: '123456', gid: '7', mtime: '1700000000.75', 'SCHILY.xattr.security.capability': Buffer.from([1, 0, 0, 2, 0x80]), 'SCHILY.xattr.user.empty': '' }), file('f')),
  'base-256 uid': () => end(rawEntry({ name: 'b256', typeflag: '0', fill: (b) => (b.fill(0, 108, 116), (b[108] = 0x80), b.writeUInt32BE(70000, 112)) }, 'z')),
  'octal field cut at a NUL': () => end(rawEntry({ name: 'nul-octal', typeflag: '0', fill: (b) => b.write('0000644\0' , 100, 'latin1') }, 'z')),
  'archive ending after a pax header': () => end(file('f'), paxHeader({ path: 'dangling' })),
  'one zero block then EOF': () => Buffer.concat([file('f'), Buffer.alloc(512)]),
  'EOF on a header boundary': () => file('f'),
  'old GNU sparse file': () =>
    end(
      rawEntry(
        {
          name: 'sparse',
          typeflag: 'S',
          format: 'gnu',
          fill: (b) => {
            b.write(octalField(0, 12), 386, 'latin1');
            b.write(octalField(3, 12), 398, 'latin1');
            b.write(octalField(1000, 12), 410, 'latin1');
            b.write(octalField(2, 12), 422, 'latin1');
            b.write(octalField(5000, 12), 483, 'latin1');
          },
        },
        'abcde',
      ),
    ),
  'pax sparse 0.1': () =>
    end(paxHeader({ 'GNU.sparse.major': '0', 'GNU.sparse.minor': '1', 'GNU.sparse.name': 'real', 'GNU.sparse.size': '4096', 'GNU.sparse.numblocks': '2', 'GNU.sparse.map': '1,2,600,3' }), file('GNUSparseFile/real', 'abcde')),
  'pax sparse 1.0': () => {
    const map = Buffer.alloc(512);
    map.write('2\n0\n2\n700\n3\n');
    return end(paxHeader({ 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'real10', 'GNU.sparse.realsize': '900' }), rawEntry({ name: 'x/real10', typeflag: '0' }, Buffer.concat([map, Buffer.from('abcde')])));
  },
  'pax sparse with a map that does not match the data': () =>
    end(paxHeader({ 'GNU.sparse.major': '0', 'GNU.sparse.minor': '1', 'GNU.sparse.size': '10', 'GNU.sparse.numblocks': '1', 'GNU.sparse.map': '0,9' }), file('f', 'abc')),
  'unknown GNU sparse version is a plain file': () => end(paxHeader({ 'GNU.sparse.major': '7' }), file('plain7', 'abc')),
  'pax record with a NUL in the path': () => end(paxHeader({ path: 'a\0b' }), file('f')),
  'unknown type flag': () => end(rawEntry({ name: 'vol', typeflag: 'V' }), file('f')),
};

/** A header whose size field says `size` for a type that carries no data. */
function rawHeaderOnly(name: string, typeflag: string, size: number): Buffer {
  return rawEntry({ name, typeflag, fill: (b) => b.write(octalField(size, 12), 124, 'latin1') });
}

for (const [name, build] of Object.entries(cases)) {
  test(`tar as Go reads it: ${name}`, () => same(name.replace(/\W+/g, '-'), build()));
}

// Go's own test archives; the two 60 GB sparse files are left out (hashing their holes takes minutes in both)
const SKIP = new Set(['gnu-sparse-big.tar', 'pax-sparse-big.tar']);
test("tar as Go reads it: Go's archive/tar test archives", () => {
  const dir = path.join(goroot, 'src/archive/tar/testdata');
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.tar') && !SKIP.has(f)) : [];
  for (const f of files) same(f, path.join(dir, f));
});
