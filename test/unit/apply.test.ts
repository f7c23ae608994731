/**
 * applyLayer (src/diff/apply.ts) and layer decompression (src/util/compress.ts),
 * table-driven like umoci's oci/layer tests: each case is named by the
 * behaviour it pins. Runs as root against the real filesystem (mknod, xattrs).
 *
 * Every case unpacks into <base>/dest next to an empty <base>/outside; hostile
 * cases also assert that nothing appeared in <base> but those two and that
 * outside is still empty.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { applyLayer, type ApplyOptions, type ApplyResult } from '../../src/diff/apply.js';
import { detectCompression, openDecompressed, compressGzip } from '../../src/util/compress.js';
import { TsrunError } from '../../src/util/errors.js';
import { native } from '../../src/native.js';
import { buildTar, rawHeader, paxHeader, type FixtureEntry } from './tarfixture.js';

interface Sandbox {
  base: string;
  dest: string;
  outside: string;
}

function sandbox(t: { after(fn: () => void): void }): Sandbox {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-apply-'));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  const dest = path.join(base, 'dest');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(dest);
  fs.mkdirSync(outside);
  return { base, dest, outside };
}

/** Feed the tar in small uneven chunks so the parser's block reassembly is exercised too. */
function chunked(buf: Buffer, size = 700): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts, { objectMode: false });
}

async function apply(sb: Sandbox, entries: FixtureEntry[] | Buffer, opts?: ApplyOptions): Promise<ApplyResult> {
  const buf = Buffer.isBuffer(entries) ? entries : await buildTar(entries);
  return applyLayer(chunked(buf), sb.dest, opts);
}

function assertConfined(sb: Sandbox): void {
  assert.deepEqual(fs.readdirSync(sb.base).sort(), ['dest', 'outside'], 'nothing written next to dest');
  assert.deepEqual(fs.readdirSync(sb.outside), [], 'nothing written into the outside dir');
}

const S_IFMT = fs.constants.S_IFMT;
const major = (rdev: number) => Math.floor(rdev / 256) & 0xfff;
const minor = (rdev: number) => (rdev & 0xff) | ((rdev >> 12) & 0xfff00);

/** security.capability v2 with CAP_SETUID (bit 7) permitted+effective: a byte ≥ 0x80, not valid UTF-8. */
const CAP_SETUID = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x80, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

interface GoodCase {
  name: string;
  entries: (sb: Sandbox) => FixtureEntry[];
  opts?: ApplyOptions;
  /** false: no end-of-archive marker. */
  end?: false;
  before?: (sb: Sandbox) => void;
  check: (sb: Sandbox, r: ApplyResult) => void;
}

const good: GoodCase[] = [
  {
    name: 'regular file keeps content, mode, numeric owner and mtime',
    entries: () => [{ name: 'etc/motd', content: 'hello\n', mode: 0o640, uid: 1000, gid: 1001, mtime: 1_600_000_123 }],
    check: ({ dest }, r) => {
      const p = path.join(dest, 'etc/motd');
      assert.equal(fs.readFileSync(p, 'utf8'), 'hello\n');
      const st = fs.lstatSync(p);
      assert.equal(st.mode & 0o7777, 0o640);
      assert.equal(st.uid, 1000);
      assert.equal(st.gid, 1001);
      assert.equal(Math.floor(st.mtimeMs / 1000), 1_600_000_123);
      assert.deepEqual(r, { entries: 1, bytes: 6 });
    },
  },
  {
    name: 'large file spanning many chunks is written whole',
    entries: () => [{ name: 'big', content: Buffer.alloc(300_001, 7) }],
    check: ({ dest }, r) => {
      const data = fs.readFileSync(path.join(dest, 'big'));
      assert.equal(data.length, 300_001);
      assert.ok(data.every((c) => c === 7));
      assert.equal(r.bytes, 300_001);
    },
  },
  {
    name: 'setuid, setgid and sticky bits are kept (chmod after chown)',
    entries: () => [
      { name: 'bin/su', content: 'x', mode: 0o4755, uid: 1000, gid: 1000 },
      { name: 'bin/wall', content: 'x', mode: 0o2755, uid: 0, gid: 5 },
      { name: 'tmp/', mode: 0o1777 },
    ],
    check: ({ dest }) => {
      assert.equal(fs.lstatSync(path.join(dest, 'bin/su')).mode & 0o7777, 0o4755);
      assert.equal(fs.lstatSync(path.join(dest, 'bin/su')).uid, 1000);
      assert.equal(fs.lstatSync(path.join(dest, 'bin/wall')).mode & 0o7777, 0o2755);
      assert.equal(fs.lstatSync(path.join(dest, 'tmp')).mode & 0o7777, 0o1777);
    },
  },
  {
    name: 'directory mtime is kept when children are added after it',
    entries: () => [
      { name: 'd/', mtime: 1_500_000_000, mode: 0o750, uid: 7, gid: 8 },
      { name: 'd/f', content: 'x', mtime: 1_600_000_000 },
      { name: 'd/sub/', mtime: 1_550_000_000 },
      { name: 'd/sub/g', content: 'y' },
      { name: 'd/l', type: 'symlink', linkname: 'f' },
    ],
    check: ({ dest }) => {
      const st = fs.lstatSync(path.join(dest, 'd'));
      assert.equal(st.mtimeMs, 1_500_000_000_000);
      assert.equal(st.mode & 0o7777, 0o750);
      assert.equal(st.uid, 7);
      assert.equal(fs.lstatSync(path.join(dest, 'd/sub')).mtimeMs, 1_550_000_000_000);
    },
  },
  {
    name: 'directory entry after its children updates metadata of the existing directory',
    entries: () => [
      { name: 'a/b', content: 'x' },
      { name: 'a/', mode: 0o700, uid: 3, mtime: 1_400_000_000 },
    ],
    check: ({ dest }) => {
      const st = fs.lstatSync(path.join(dest, 'a'));
      assert.equal(st.mode & 0o7777, 0o700);
      assert.equal(st.uid, 3);
      assert.equal(st.mtimeMs, 1_400_000_000_000);
      assert.equal(fs.readFileSync(path.join(dest, 'a/b'), 'utf8'), 'x');
    },
  },
  {
    name: 'missing parents are created 0755 root',
    entries: () => [{ name: 'x/y/z', content: '' }],
    check: ({ dest }) => {
      for (const d of ['x', 'x/y']) {
        const st = fs.lstatSync(path.join(dest, d));
        assert.ok(st.isDirectory());
        assert.equal(st.mode & 0o7777, 0o755);
        assert.equal(st.uid, 0);
        assert.equal(st.gid, 0);
      }
    },
  },
  {
    name: 'root entry ./ sets the metadata of dest itself',
    entries: () => [
      { name: './', mode: 0o711, mtime: 1_300_000_000 },
      { name: './etc/', mode: 0o755 },
    ],
    check: ({ dest }) => {
      const st = fs.lstatSync(dest);
      assert.equal(st.mode & 0o7777, 0o711);
      assert.equal(st.mtimeMs, 1_300_000_000_000);
    },
  },
  {
    name: 'leading / and ./ are stripped like docker does',
    entries: () => [
      { name: '/abs/file', content: 'a' },
      { name: './dot/file', content: 'b' },
    ],
    check: ({ dest }) => {
      assert.equal(fs.readFileSync(path.join(dest, 'abs/file'), 'utf8'), 'a');
      assert.equal(fs.readFileSync(path.join(dest, 'dot/file'), 'utf8'), 'b');
    },
  },
  {
    name: 'symlink target is kept as text and never followed',
    entries: (sb) => [
      { name: 'etc/passwd-link', type: 'symlink', linkname: '/etc/passwd', uid: 5, gid: 6, mtime: 1_234_567_890 },
      { name: 'up', type: 'symlink', linkname: '../../../../outside' },
      { name: 'out', type: 'symlink', linkname: sb.outside },
    ],
    check: (sb) => {
      const p = path.join(sb.dest, 'etc/passwd-link');
      assert.equal(fs.readlinkSync(p), '/etc/passwd');
      const st = fs.lstatSync(p);
      assert.ok(st.isSymbolicLink());
      assert.equal(st.uid, 5);
      assert.equal(st.gid, 6);
      assert.equal(st.mtimeMs, 1_234_567_890_000);
      assert.equal(fs.readlinkSync(path.join(sb.dest, 'up')), '../../../../outside');
      assertConfined(sb);
    },
  },
  {
    name: 'hardlink to an earlier regular file shares its inode (link count 2)',
    entries: () => [
      { name: 'bin/busybox', content: 'BB', mode: 0o755, uid: 2 },
      { name: 'bin/sh', type: 'link', linkname: 'bin/busybox' },
      { name: 'sbin/init', type: 'link', linkname: './bin/busybox' },
    ],
    check: ({ dest }, r) => {
      const a = fs.lstatSync(path.join(dest, 'bin/busybox'));
      const b = fs.lstatSync(path.join(dest, 'bin/sh'));
      assert.equal(a.ino, b.ino);
      assert.equal(a.nlink, 3);
      assert.equal(b.mode & 0o7777, 0o755);
      assert.equal(b.uid, 2);
      assert.equal(r.bytes, 2, 'hardlinks add no bytes');
    },
  },
  {
    name: 'fifo is created with its mode and owner',
    entries: () => [{ name: 'run/fifo', type: 'fifo', mode: 0o620, uid: 4, gid: 4 }],
    check: ({ dest }) => {
      const st = fs.lstatSync(path.join(dest, 'run/fifo'));
      assert.ok(st.isFIFO());
      assert.equal(st.mode & 0o7777, 0o620);
      assert.equal(st.uid, 4);
    },
  },
  {
    name: 'char and block devices keep major/minor',
    entries: () => [
      { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop0', type: 'block', devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
    ],
    check: ({ dest }) => {
      const c = fs.lstatSync(path.join(dest, 'dev/null'));
      assert.ok(c.isCharacterDevice());
      assert.equal(c.mode & 0o7777, 0o666);
      assert.deepEqual([major(c.rdev), minor(c.rdev)], [1, 3]);
      const b = fs.lstatSync(path.join(dest, 'dev/loop0'));
      assert.ok(b.isBlockDevice());
      assert.deepEqual([major(b.rdev), minor(b.rdev)], [7, 0]);
      assert.equal(b.gid, 6);
    },
  },
  {
    name: 'whiteout .wh.NAME becomes a 0/0 char device NAME',
    entries: () => [{ name: 'etc/' }, { name: 'etc/.wh.shadow' }, { name: '.wh.opt' }],
    check: ({ dest }, r) => {
      for (const p of ['etc/shadow', 'opt']) {
        const st = fs.lstatSync(path.join(dest, p));
        assert.ok(st.isCharacterDevice(), p);
        assert.equal(st.rdev, 0);
      }
      assert.deepEqual(fs.readdirSync(path.join(dest, 'etc')), ['shadow']);
      assert.equal(r.entries, 3);
    },
  },
  {
    name: 'opaque marker sets trusted.overlay.opaque=y on its directory',
    entries: () => [{ name: 'var/', mtime: 1_450_000_000 }, { name: 'var/.wh..wh..opq' }, { name: 'var/new', content: 'n' }],
    check: ({ dest }) => {
      const v = native().lgetxattr(path.join(dest, 'var'), 'trusted.overlay.opaque');
      assert.equal(v?.toString(), 'y');
      assert.deepEqual(fs.readdirSync(path.join(dest, 'var')), ['new']);
      assert.equal(fs.lstatSync(path.join(dest, 'var')).mtimeMs, 1_450_000_000_000);
    },
  },
  {
    name: 'binary xattr security.capability is kept byte for byte',
    entries: () => [
      { name: 'bin/setuidcap', content: 'x', mode: 0o755, uid: 0, xattrs: { 'security.capability': CAP_SETUID } },
      { name: 'etc/', xattrs: { 'trusted.note': 'dir-xattr' } },
    ],
    check: ({ dest }) => {
      assert.deepEqual(native().lgetxattr(path.join(dest, 'bin/setuidcap'), 'security.capability'), CAP_SETUID);
      assert.equal(native().lgetxattr(path.join(dest, 'etc'), 'trusted.note')?.toString(), 'dir-xattr');
    },
  },
  {
    name: 'trusted.overlay.* xattrs in the tar are dropped',
    entries: () => [{ name: 'd/', xattrs: { 'trusted.overlay.redirect': '/etc', 'trusted.overlay.opaque': 'y' } }],
    check: ({ dest }) => {
      assert.equal(native().lgetxattr(path.join(dest, 'd'), 'trusted.overlay.redirect'), null);
      assert.equal(native().lgetxattr(path.join(dest, 'd'), 'trusted.overlay.opaque'), null);
    },
  },
  {
    name: 'long names and link targets (pax) are kept',
    entries: () => {
      const long = 'p/' + 'a'.repeat(120) + '/' + 'b'.repeat(150);
      return [
        { name: long, content: 'L' },
        { name: 'lnk', type: 'symlink', linkname: '/' + 'c'.repeat(200) },
      ];
    },
    check: ({ dest }) => {
      assert.equal(fs.readFileSync(path.join(dest, 'p/' + 'a'.repeat(120) + '/' + 'b'.repeat(150)), 'utf8'), 'L');
      assert.equal(fs.readlinkSync(path.join(dest, 'lnk')), '/' + 'c'.repeat(200));
    },
  },
  {
    name: 'pax mtime with fraction and uid override the header',
    entries: () => [{ name: 'f', content: 'x', uid: 1, pax: { mtime: '1600000000.5', uid: '3000000' } }],
    check: ({ dest }) => {
      const st = fs.lstatSync(path.join(dest, 'f'));
      assert.equal(st.mtimeMs, 1_600_000_000_500);
      assert.equal(st.uid, 3_000_000);
    },
  },
  {
    name: 'mtimeClamp caps later mtimes',
    entries: () => [
      { name: 'new', content: 'x', mtime: 2_000_000_000 },
      { name: 'old', content: 'x', mtime: 1_000_000_000 },
    ],
    opts: { mtimeClamp: 1_500_000_000 },
    check: ({ dest }) => {
      assert.equal(fs.lstatSync(path.join(dest, 'new')).mtimeMs, 1_500_000_000_000);
      assert.equal(fs.lstatSync(path.join(dest, 'old')).mtimeMs, 1_000_000_000_000);
    },
  },
  {
    name: "whiteouts: 'apply' deletes NAME and an opaque dir loses its earlier contents",
    before: ({ dest }) => {
      fs.mkdirSync(path.join(dest, 'etc'));
      fs.writeFileSync(path.join(dest, 'etc/passwd'), 'old');
      fs.writeFileSync(path.join(dest, 'etc/group'), 'keep');
      fs.mkdirSync(path.join(dest, 'var/lib'), { recursive: true });
      fs.writeFileSync(path.join(dest, 'var/x'), 'lower');
      fs.writeFileSync(path.join(dest, 'var/lib/y'), 'lower');
      fs.mkdirSync(path.join(dest, 'gone/deep'), { recursive: true });
    },
    entries: () => [
      { name: 'etc/.wh.passwd' },
      { name: '.wh.gone' },
      { name: '.wh.never-existed' },
      { name: 'var/' },
      { name: 'var/lib/' },
      { name: 'var/lib/z', content: 'new' },
      { name: 'var/.wh..wh..opq' },
      { name: 'var/new', content: 'new' },
    ],
    opts: { whiteouts: 'apply' },
    check: ({ dest }) => {
      assert.deepEqual(fs.readdirSync(path.join(dest, 'etc')), ['group']);
      assert.equal(fs.existsSync(path.join(dest, 'gone')), false);
      assert.equal(fs.existsSync(path.join(dest, 'never-existed')), false);
      assert.deepEqual(fs.readdirSync(path.join(dest, 'var')).sort(), ['lib', 'new']);
      assert.deepEqual(fs.readdirSync(path.join(dest, 'var/lib')), ['z']);
      assert.equal(native().lgetxattr(path.join(dest, 'var'), 'trusted.overlay.opaque'), null);
    },
  },
  {
    name: 'onto an existing tree, an entry replaces a pre-existing file, symlink or directory of another type',
    before: ({ dest, outside }) => {
      fs.writeFileSync(path.join(dest, 'was-file'), 'f');
      fs.symlinkSync(outside, path.join(dest, 'was-link'));
      fs.mkdirSync(path.join(dest, 'was-dir/sub'), { recursive: true });
    },
    entries: () => [
      { name: 'was-file/', mode: 0o700 },
      { name: 'was-link/', mode: 0o700 },
      { name: 'was-link/inside', content: 'i' },
      { name: 'was-dir', content: 'now a file' },
    ],
    opts: { whiteouts: 'apply' },
    check: (sb) => {
      assert.ok(fs.lstatSync(path.join(sb.dest, 'was-file')).isDirectory());
      assert.ok(fs.lstatSync(path.join(sb.dest, 'was-link')).isDirectory());
      assert.equal(fs.readFileSync(path.join(sb.dest, 'was-dir'), 'utf8'), 'now a file');
      assertConfined(sb);
    },
  },
  {
    name: 'global pax header is ignored and an archive without end marker is accepted',
    entries: () => [{ name: 'g', raw: paxHeader({ comment: 'global', path: 'ignored' }, 'g') }, { name: 'f', content: 'x' }],
    end: false,
    check: ({ dest }) => assert.equal(fs.readFileSync(path.join(dest, 'f'), 'utf8'), 'x'),
  },
];

describe('applyLayer: what a layer holds is unpacked as it was', () => {
  for (const c of good) {
    test(c.name, async (t) => {
      const sb = sandbox(t);
      c.before?.(sb);
      const r = await apply(sb, await buildTar(c.entries(sb), { end: c.end }), c.opts);
      c.check(sb, r);
    });
  }
});

interface BadCase {
  name: string;
  tar: (sb: Sandbox) => Promise<Buffer>;
  code: TsrunError['code'];
  opts?: ApplyOptions;
  message?: RegExp;
}

const entries = (list: FixtureEntry[] | ((sb: Sandbox) => FixtureEntry[])) => (sb: Sandbox) =>
  buildTar(typeof list === 'function' ? list(sb) : list);

const validTar = () => buildTar([{ name: 'a', content: Buffer.alloc(5000, 1) }, { name: 'b', content: 'x' }]);

// fix the checksum of a GNU sparse ('S') header: rawHeader computes it
const sparse = rawHeader({ name: 'sparse', typeflag: 'S', size: 0 });

const bad: BadCase[] = [
  { name: 'name ../evil climbs out', tar: entries([{ name: '../evil', content: 'x' }]), code: 'UNSAFE_PATH', message: /\.\.\/evil/ },
  { name: 'name /../../evil climbs out', tar: entries([{ name: '/../../evil', content: 'x' }]), code: 'UNSAFE_PATH' },
  { name: 'name a/../../evil climbs out', tar: entries([{ name: 'a/../../evil', content: 'x' }]), code: 'UNSAFE_PATH' },
  {
    name: 'entry under a symlink parent pointing outside (absolute) is refused',
    tar: entries((sb) => [
      { name: 'l', type: 'symlink', linkname: sb.outside },
      { name: 'l/evil', content: 'x' },
    ]),
    code: 'UNSAFE_PATH',
    message: /symlink/,
  },
  {
    name: 'entry under a symlink parent pointing outside (relative) is refused',
    tar: entries([
      { name: 'a/', type: 'dir' },
      { name: 'a/l', type: 'symlink', linkname: '../../outside' },
      { name: 'a/l/sub/evil', content: 'x' },
    ]),
    code: 'UNSAFE_PATH',
  },
  {
    name: 'directory under a symlink parent is refused',
    tar: entries((sb) => [
      { name: 'l', type: 'symlink', linkname: sb.outside },
      { name: 'l/d/', type: 'dir' },
    ]),
    code: 'UNSAFE_PATH',
  },
  {
    name: 'whiteout under a symlink parent is refused',
    tar: entries((sb) => [
      { name: 'l', type: 'symlink', linkname: sb.outside },
      { name: 'l/.wh.x' },
    ]),
    code: 'UNSAFE_PATH',
  },
  {
    name: 'symlink replacing a directory that holds earlier entries is refused',
    tar: entries((sb) => [
      { name: 'a/b', content: 'x' },
      { name: 'a', type: 'symlink', linkname: sb.outside },
      { name: 'a/c', content: 'x' },
    ]),
    code: 'INVALID_ARCHIVE',
  },
  {
    name: 'hardlink created under a symlink parent is refused',
    tar: entries((sb) => [
      { name: 'f', content: 'x' },
      { name: 'l', type: 'symlink', linkname: sb.outside },
      { name: 'l/h', type: 'link', linkname: 'f' },
    ]),
    code: 'UNSAFE_PATH',
  },
  {
    name: 'hardlink to a path through a symlink is refused',
    tar: entries((sb) => [
      { name: 'l', type: 'symlink', linkname: path.dirname(sb.base) },
      { name: 'h', type: 'link', linkname: 'l/passwd' },
    ]),
    code: 'INVALID_ARCHIVE',
  },
  { name: 'symlink with a NUL in its target is refused', tar: entries([{ name: 's', type: 'symlink', linkname: 'a', pax: { linkpath: 'a\0b' } }]), code: 'INVALID_ARCHIVE' },
  // Go's archive/tar refuses a pax path with a NUL in it (validPAXRecord)
  { name: 'name with a NUL byte is refused', tar: entries([{ name: 'f', content: 'x', pax: { path: 'a\0b' } }]), code: 'INVALID_ARCHIVE' },
  { name: 'hardlink to ../../etc/passwd is refused', tar: entries([{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]), code: 'UNSAFE_PATH', message: /hardlink "h"/ },
  {
    name: 'hardlink to /etc/passwd (not in the layer) is refused',
    tar: entries([{ name: 'h', type: 'link', linkname: '/etc/passwd' }]),
    code: 'INVALID_ARCHIVE',
  },
  {
    name: 'hardlink to a not-yet-seen entry is refused',
    tar: entries([
      { name: 'h', type: 'link', linkname: 'f' },
      { name: 'f', content: 'x' },
    ]),
    code: 'INVALID_ARCHIVE',
  },
  {
    name: 'hardlink to a directory is refused',
    tar: entries([{ name: 'd/' }, { name: 'h', type: 'link', linkname: 'd' }]),
    code: 'INVALID_ARCHIVE',
  },
  {
    name: 'duplicate file entry is refused',
    tar: entries([
      { name: 'f', content: 'x' },
      { name: 'f', content: 'y' },
    ]),
    code: 'INVALID_ARCHIVE',
    message: /duplicate/,
  },
  { name: 'directory then file of the same name is refused', tar: entries([{ name: 'd/' }, { name: './d', content: 'x' }]), code: 'INVALID_ARCHIVE' },
  { name: 'whiteout then recreation in one layer is refused', tar: entries([{ name: '.wh.a' }, { name: 'a', content: 'x' }]), code: 'INVALID_ARCHIVE' },
  { name: 'entry then its whiteout in one layer is refused', tar: entries([{ name: 'a', content: 'x' }, { name: '.wh.a' }]), code: 'INVALID_ARCHIVE' },
  { name: 'bare .wh. is refused', tar: entries([{ name: '.wh.' }]), code: 'INVALID_ARCHIVE', message: /bare/ },
  { name: 'bare .wh. in a subdirectory is refused', tar: entries([{ name: 'a/.wh.' }]), code: 'INVALID_ARCHIVE' },
  { name: 'whiteout of .. is refused', tar: entries([{ name: 'a/.wh...' }]), code: 'UNSAFE_PATH' },
  { name: 'entry under a .wh. name is refused', tar: entries([{ name: '.wh.x/y', content: 'x' }]), code: 'INVALID_ARCHIVE' },
  { name: 'hardlink to a missing AUFS plnk file is refused', tar: entries([{ name: 'h', type: 'link', linkname: '.wh..wh.plnk/1' }]), code: 'INVALID_ARCHIVE' },
  {
    name: 'file under a regular file is refused',
    tar: entries([
      { name: 'f', content: 'x' },
      { name: 'f/g', content: 'y' },
    ]),
    code: 'INVALID_ARCHIVE',
  },
  { name: 'tar bomb by entry count (maxEntries)', tar: entries(Array.from({ length: 11 }, (_, i) => ({ name: `f${i}`, content: '' }))), code: 'TOO_LARGE', opts: { maxEntries: 10 } },
  {
    name: 'tar bomb by size (maxBytes)',
    tar: entries([
      { name: 'a', content: Buffer.alloc(600) },
      { name: 'b', content: Buffer.alloc(600) },
    ]),
    code: 'TOO_LARGE',
    opts: { maxBytes: 1000 },
  },
  { name: 'truncated tar (inside file data) is refused', tar: async () => (await validTar()).subarray(0, 512 + 3000), code: 'INVALID_ARCHIVE', message: /malformed tar/ },
  { name: 'truncated tar (inside a header) is refused', tar: async () => (await validTar()).subarray(0, 512 + 5120 + 100), code: 'INVALID_ARCHIVE' },
  {
    name: 'garbage bytes are refused',
    tar: async () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)),
    code: 'INVALID_ARCHIVE',
    message: /malformed tar/,
  },
  {
    name: 'bad header checksum is refused',
    tar: async () => Buffer.concat([rawHeader({ name: 'f', typeflag: '0', checksum: 1 }), Buffer.alloc(1024)]),
    code: 'INVALID_ARCHIVE',
  },
  // Go reads an old-GNU sparse map only from a GNU-format header
  { name: "GNU sparse 'S' in a ustar header is refused", tar: async () => Buffer.concat([sparse, Buffer.alloc(1024)]), code: 'INVALID_ARCHIVE', message: /sparse/ },
  { name: 'pax sparse map that does not match the data is refused', tar: entries([{ name: 'f', content: 'x', pax: { 'GNU.sparse.major': '0', 'GNU.sparse.minor': '1', 'GNU.sparse.numblocks': '1', 'GNU.sparse.map': '0,5', 'GNU.sparse.size': '10' } }]), code: 'INVALID_ARCHIVE', message: /sparse/ },
  { name: 'pax sparse map past the file size is refused', tar: entries([{ name: 'f', content: 'x', pax: { 'GNU.sparse.major': '0', 'GNU.sparse.minor': '1', 'GNU.sparse.numblocks': '1', 'GNU.sparse.map': '20,1', 'GNU.sparse.size': '10' } }]), code: 'INVALID_ARCHIVE', message: /sparse/ },
  {
    name: 'gzip-compressed bytes given as a plain tar are refused',
    tar: async () => zlib.gzipSync(await validTar()),
    code: 'INVALID_ARCHIVE',
  },
];

describe('applyLayer: hostile or malformed layers are refused and nothing is written outside dest', () => {
  for (const c of bad) {
    test(c.name, async (t) => {
      const sb = sandbox(t);
      const buf = await c.tar(sb);
      await assert.rejects(
        () => applyLayer(chunked(buf), sb.dest, c.opts),
        (err: unknown) => {
          assert.ok(err instanceof TsrunError, `expected a TsrunError, got ${String(err)}`);
          assert.equal(err.code, c.code, err.message);
          assert.ok(!err.message.includes('\n'), 'one-line message');
          if (c.message) assert.match(err.message, c.message);
          return true;
        },
      );
      assertConfined(sb);
    });
  }
});

describe('layer decompression', () => {
  const plain = () => buildTar([{ name: 'f', content: 'compressed?' }]);

  test('detectCompression reads magic bytes', () => {
    const table: [number[], string][] = [
      [[0x1f, 0x8b, 8, 0], 'gzip'],
      [[0x28, 0xb5, 0x2f, 0xfd], 'zstd'],
      [[0x28, 0xb5, 0x2f], 'none'],
      [[0x1f], 'none'],
      [[], 'none'],
      [[0x2e, 0x2f, 0, 0], 'none'],
    ];
    for (const [bytes, want] of table) assert.equal(detectCompression(Buffer.from(bytes)), want, JSON.stringify(bytes));
  });

  const zstd = (buf: Buffer) => {
    const r = spawnSync('zstd', ['-c', '-q'], { input: buf });
    assert.equal(r.status, 0);
    return r.stdout;
  };

  const roundtrips: [string, (b: Buffer) => Buffer, string][] = [
    ['plain tar passes through', (b) => b, 'none'],
    ['gzip is gunzipped', (b) => zlib.gzipSync(b), 'gzip'],
    ['zstd is decompressed by the zstd program', zstd, 'zstd'],
  ];
  for (const [name, compress, want] of roundtrips) {
    test(`${name} and applies`, async (t) => {
      const sb = sandbox(t);
      const tarBuf = await plain();
      const { stream, compression } = await openDecompressed(chunked(compress(tarBuf), 3));
      assert.equal(compression, want);
      await applyLayer(stream, sb.dest);
      assert.equal(fs.readFileSync(path.join(sb.dest, 'f'), 'utf8'), 'compressed?');
    });
  }

  test('empty input is an empty plain stream', async () => {
    const { stream, compression } = await openDecompressed(Readable.from([], { objectMode: false }));
    assert.equal(compression, 'none');
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).length, 0);
  });

  const corrupt: [string, () => Promise<Buffer>, RegExp][] = [
    ['corrupt gzip', async () => { const g = zlib.gzipSync(await plain()); g[20] ^= 0xff; g[30] ^= 0xff; return g; }, /layer is not valid gzip/],
    ['truncated gzip', async () => { const g = zlib.gzipSync(await buildTar([{ name: 'f', content: Buffer.alloc(100000, 3) }])); return g.subarray(0, g.length - 30); }, /layer is not valid gzip/],
    ['corrupt zstd', async () => { const z = zstd(await plain()); return Buffer.concat([z.subarray(0, 8), Buffer.alloc(40, 0xee)]); }, /layer is not valid zstd/],
  ];
  for (const [name, make, re] of corrupt) {
    test(`${name} is INVALID_ARCHIVE`, async (t) => {
      const sb = sandbox(t);
      const { stream } = await openDecompressed(chunked(await make(), 16));
      await assert.rejects(
        () => applyLayer(stream, sb.dest),
        (err: unknown) => err instanceof TsrunError && err.code === 'INVALID_ARCHIVE' && re.test(err.message),
      );
    });
  }

  test('zstd layer without the zstd program is UNSUPPORTED with a hint', async () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await assert.rejects(
        () => openDecompressed(Readable.from([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0])], { objectMode: false })),
        (err: unknown) => err instanceof TsrunError && err.code === 'UNSUPPORTED' && /zstd/.test(err.hint ?? ''),
      );
    } finally {
      process.env.PATH = saved;
    }
  });

  test('compressGzip output gunzips back to the input', async () => {
    const data = Buffer.alloc(200_000, 'abc');
    const out: Buffer[] = [];
    for await (const c of compressGzip(Readable.from([data], { objectMode: false }), 1)) out.push(c as Buffer);
    assert.deepEqual(zlib.gunzipSync(Buffer.concat(out)), data);
  });
});
