/**
 * Small files are written in batches by the addon (src/diff/apply-batch.ts),
 * large and sparse ones streamed (apply-files.ts's FileJob): both must leave
 * exactly what the layer holds, whatever the input's chunking, and a failure
 * inside a batch must name its entry in one line.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { applyLayer, type ApplyOptions } from '../../src/diff/apply.js';
import { native } from '../../src/native.js';
import { TsrunError } from '../../src/util/errors.js';
import { removeTree } from '../../src/util/rmtree.js';
import { buildTar, type FixtureEntry } from './tarfixture.js';
import { SMALL_FILE_MAX, BATCH_FILES } from '../../src/diff/apply-batch.js';

function sandbox(t: { after(fn: () => void): void }): string {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-batch-'));
  t.after(() => removeTree(base));
  const dest = path.join(base, 'dest');
  fs.mkdirSync(dest);
  return dest;
}

function chunked(buf: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts, { objectMode: false });
}

/** Deterministic bytes of a given length (so a misplaced piece shows). */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

interface Want {
  name: string;
  content: Buffer;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
}

/** 3 batches' worth of small files (sizes 0 to a few KB, some setuid, owners and fractional mtimes varied), a hardlink after some, a large file between them. */
function layer(): { entries: FixtureEntry[]; want: Want[] } {
  const entries: FixtureEntry[] = [{ name: 'd/' }];
  const want: Want[] = [];
  for (let i = 0; i < BATCH_FILES * 3 + 5; i++) {
    const w: Want = {
      name: `d/f${i}`,
      content: bytes((i * 397) % 5000, i),
      mode: i % 5 === 0 ? 0o4755 : i % 3 === 0 ? 0o600 : 0o644,
      uid: i % 7,
      gid: 100 + (i % 3),
      mtime: 1_600_000_000 + i + (i % 4) / 4,
    };
    want.push(w);
    entries.push({ name: w.name, content: w.content, mode: w.mode, uid: w.uid, gid: w.gid, mtime: w.mtime, pax: { mtime: String(w.mtime) } });
    if (i % 9 === 0) entries.push({ name: `d/link${i}`, type: 'link', linkname: w.name });
    if (i === 70) {
      const big: Want = { name: 'd/big', content: bytes(SMALL_FILE_MAX + 12345, 99), mode: 0o755, uid: 3, gid: 4, mtime: 1_650_000_000 };
      want.push(big);
      entries.push({ name: big.name, content: big.content, mode: big.mode, uid: big.uid, gid: big.gid, mtime: big.mtime });
    }
  }
  entries.push({ name: 'd/x', content: 'with xattr', xattrs: { 'trusted.note': 'kept' } });
  return { entries, want };
}

function check(dest: string, want: Want[]): void {
  for (const w of want) {
    const p = path.join(dest, w.name);
    const st = fs.lstatSync(p);
    assert.equal(st.mtimeMs, w.mtime * 1000, `${w.name} mtime`);
    assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [w.mode, w.uid, w.gid], `${w.name} metadata`);
    assert.ok(fs.readFileSync(p).equals(w.content), `${w.name} content`);
  }
  for (let i = 0; i < want.length; i += 9) {
    const name = `d/f${i}`;
    const w = want.find((x) => x.name === name);
    if (!w) continue;
    assert.equal(fs.lstatSync(path.join(dest, `d/link${i}`)).ino, fs.lstatSync(path.join(dest, name)).ino, `d/link${i} is a hardlink`);
  }
  assert.equal(native().lgetxattr(path.join(dest, 'd/x'), 'trusted.note')?.toString(), 'kept');
}

describe('batched small files', () => {
  for (const size of [700, 64 * 1024, 1 << 20]) {
    test(`a layer of ${BATCH_FILES * 3 + 5} small files, hardlinks, a large file and xattrs, read in ${size}-byte chunks, unpacks exactly`, async (t) => {
      const dest = sandbox(t);
      const { entries, want } = layer();
      const r = await applyLayer(chunked(await buildTar(entries), size), dest);
      assert.equal(r.entries, entries.length);
      check(dest, want);
    });
  }

  test('onto an existing tree, small files replace what is there (a file, a directory) with their own metadata and xattrs', async (t) => {
    const dest = sandbox(t);
    fs.mkdirSync(path.join(dest, 'etc'));
    fs.writeFileSync(path.join(dest, 'etc/passwd'), 'old old old');
    fs.mkdirSync(path.join(dest, 'etc/was-dir/sub'), { recursive: true });
    const opts: ApplyOptions = { whiteouts: 'apply' };
    await applyLayer(
      chunked(
        await buildTar([
          { name: 'etc/' },
          { name: 'etc/passwd', content: 'new', mode: 0o4750, uid: 5, gid: 6, mtime: 1_234_567_890, xattrs: { 'trusted.note': 'x' } },
          { name: 'etc/was-dir', content: 'a file now', mode: 0o600 },
          { name: 'etc/other', content: 'o' },
        ]),
        700,
      ),
      dest,
      opts,
    );
    const st = fs.lstatSync(path.join(dest, 'etc/passwd'));
    assert.deepEqual([st.mode & 0o7777, st.uid, st.gid, st.mtimeMs], [0o4750, 5, 6, 1_234_567_890_000]);
    assert.equal(fs.readFileSync(path.join(dest, 'etc/passwd'), 'utf8'), 'new');
    assert.equal(native().lgetxattr(path.join(dest, 'etc/passwd'), 'trusted.note')?.toString(), 'x');
    assert.equal(fs.readFileSync(path.join(dest, 'etc/was-dir'), 'utf8'), 'a file now');
    assert.equal(fs.lstatSync(path.join(dest, 'etc/was-dir')).mode & 0o7777, 0o600);
    assert.equal(fs.readFileSync(path.join(dest, 'etc/other'), 'utf8'), 'o');
  });

  test('a file the filesystem refuses inside a batch (a name over 255 bytes) fails the layer in one line naming the entry', async (t) => {
    const dest = sandbox(t);
    const long = 'n'.repeat(300);
    const entries: FixtureEntry[] = [{ name: 'a', content: 'a' }, { name: `d/${long}`, content: 'x' }, { name: 'z', content: 'z' }];
    await assert.rejects(applyLayer(chunked(await buildTar(entries), 1 << 20), dest), (err: unknown) => {
      assert.ok(err instanceof TsrunError, String(err));
      assert.match(err.message, /^unpacking layer entry "d\/n+…n+": ENAMETOOLONG: name too long, open$/);
      return true;
    });
  });
});
