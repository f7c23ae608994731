/** COPY's layer without a staging copy: which tar entries a selection becomes, in walk order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selectCopy, type CopyRoot } from '../../src/ops/build/copy-select.js';
import { copyEntries } from '../../src/ops/build/copy-layer-direct.js';

const W = { file: 'Dockerfile', line: 2 };

test('entries: targets in depth-first sorted order, parents from the image kept, new ones the owner 0755, --chmod', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-copylayer-'));
  try {
    const ctx = path.join(base, 'ctx');
    for (const [f, d] of Object.entries({ 'app/b.txt': 'b', 'app/a/z.txt': 'z', 'app/a-b.txt': 'ab' })) {
      fs.mkdirSync(path.dirname(path.join(ctx, f)), { recursive: true });
      fs.writeFileSync(path.join(ctx, f), d);
    }
    fs.symlinkSync('b.txt', path.join(ctx, 'app', 'link'));
    // the image: /srv exists, owned by 7:8, mode 0750
    const lower = path.join(base, 'lower');
    fs.mkdirSync(path.join(lower, 'srv'), { recursive: true });
    fs.chownSync(path.join(lower, 'srv'), 7, 8);
    fs.chmodSync(path.join(lower, 'srv'), 0o750);
    const root: CopyRoot = { dir: ctx, context: true };
    const sel = selectCopy(root, ['app'], '/srv/new/', W);
    const e = copyEntries(sel, [lower], { owner: { uid: 1000, gid: 1000 }, chmod: 0o640 }, 1234);
    const order = [...e.keys()].sort((a, b) => {
      const pa = a.split('/'), pb = b.split('/');
      for (let i = 0; i < Math.min(pa.length, pb.length); i++) if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
      return pa.length - pb.length;
    });
    assert.deepEqual(order, ['srv', 'srv/new', 'srv/new/a', 'srv/new/a/z.txt', 'srv/new/a-b.txt', 'srv/new/b.txt', 'srv/new/link']);
    assert.deepEqual({ ...e.get('srv')!, mtime: 0 }, { type: 'dir', mode: 0o750, uid: 7, gid: 8, mtime: 0 });
    // the source directory itself lands on /srv/new/ (its contents below it), with --chown/--chmod
    assert.deepEqual([e.get('srv/new')!.type, e.get('srv/new')!.mode, e.get('srv/new')!.uid], ['dir', 0o640, 1000]);
    const nested = copyEntries(selectCopy(root, ['app/b.txt'], '/srv/a/b/', W), [lower], { owner: { uid: 5, gid: 6 } }, 1234);
    assert.deepEqual(nested.get('srv/a'), { type: 'dir', mode: 0o755, uid: 5, gid: 6, mtime: 1234 });
    assert.equal(e.get('srv/new/b.txt')!.mode, 0o640);
    assert.equal(e.get('srv/new/b.txt')!.uid, 1000);
    assert.equal(e.get('srv/new/link')!.type, 'symlink');
    assert.equal(e.get('srv/new/link')!.linkname, 'b.txt');
    // --link: the image is not consulted, every parent is new
    const linked = copyEntries(sel, [], {}, 1234);
    assert.deepEqual(linked.get('srv'), { type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 1234 });
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('a file over a directory selected earlier takes its whole place', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-copylayer-'));
  try {
    const ctx = path.join(base, 'ctx');
    fs.mkdirSync(path.join(ctx, 'x', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(ctx, 'x', 'sub', 'in.txt'), 'in');
    fs.writeFileSync(path.join(ctx, 'f'), 'f');
    const root: CopyRoot = { dir: ctx, context: true };
    const sel = [...selectCopy(root, ['x'], '/t/', W), ...selectCopy(root, ['f'], '/t/sub', W)];
    const e = copyEntries(sel, [], {}, 1);
    assert.equal(e.get('t/sub')!.type, 'file');
    assert.equal(e.has('t/sub/in.txt'), false);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test("the writer's file checksums: fileSum's own, only for files the selection saw, and the same layer bytes with or without them", async () => {
  const { openCtx } = await import('../../src/context.js');
  const { BuildCache } = await import('../../src/ops/build/build-cache.js');
  const { writeEntriesLayer } = await import('../../src/ops/build/copy-layer-direct.js');
  const crypto = await import('node:crypto');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-copysums-'));
  try {
    const ctxDir = path.join(base, 'ctx');
    fs.mkdirSync(path.join(ctxDir, 'd'), { recursive: true });
    const big = Buffer.alloc(5 << 20, 7); // across several of the writer's 2 MiB slots
    big.write('not all sevens', 1 << 20);
    const files: Record<string, Buffer> = { 'a.txt': Buffer.from('a'), 'd/big.bin': big, 'd/empty': Buffer.alloc(0), 'shrinks.txt': Buffer.from('0123456789') };
    for (const [f, d] of Object.entries(files)) fs.writeFileSync(path.join(ctxDir, f), d);
    const root: CopyRoot = { dir: ctxDir, context: true };
    const ctx = openCtx(path.join(base, 'store'));
    const cache = new BuildCache(ctx);
    const sums = { need: (a: string, st: fs.BigIntStats) => !cache.hasSum(a, st), put: (a: string, st: fs.BigIntStats, s: string) => cache.recordSum(a, st, s) };
    const sel = selectCopy(root, ['.'], '/app/', W);
    const withSums = await writeEntriesLayer(ctx, copyEntries(sel, [], {}, 1234), undefined, sums);
    for (const s of sel.filter((x) => x.st.isFile())) {
      assert.ok(cache.hasSum(s.abs, s.st), s.abs);
      const want = crypto.createHash('sha256').update(fs.readFileSync(s.abs)).digest('hex');
      // what fileSum hands out (from the recorded sums) is the file's sha256
      assert.equal(cache.fileSum(s.abs, s.st), want, s.abs);
    }
    const without = await writeEntriesLayer(ctx, copyEntries(selectCopy(root, ['.'], '/app/', W), [], {}, 1234));
    assert.equal(withSums.result.diffId, without.result.diffId);
    assert.deepEqual(fs.readFileSync(withSums.blobTmp), fs.readFileSync(without.blobTmp));
    // a file that shrank after the selection saw it: its checksum is not recorded (fileSum reads it then)
    const fresh = new BuildCache(ctx);
    const sel2 = selectCopy(root, ['shrinks.txt'], '/s', W);
    fs.truncateSync(path.join(ctxDir, 'shrinks.txt'), 3);
    const shrunk = await writeEntriesLayer(ctx, copyEntries(sel2, [], {}, 1234), undefined, { need: (a, st) => !fresh.hasSum(a, st), put: (a, st, s) => fresh.recordSum(a, st, s) });
    assert.equal(fresh.hasSum(sel2[0]!.abs, sel2[0]!.st), false);
    assert.ok(shrunk.result.size > 0);
    for (const t of [withSums, without, shrunk]) fs.rmSync(t.blobTmp, { force: true });
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test("the addon's stream is the bytes TarWriter makes from the same entries (headers, data, padding, pax, across slots)", async () => {
  const { openCtx } = await import('../../src/context.js');
  const { writeEntriesLayer } = await import('../../src/ops/build/copy-layer-direct.js');
  const { TarWriter } = await import('../../src/diff/tar-writer.js');
  const { readXattrs } = await import('../../src/ops/build/copy-select.js');
  const crypto = await import('node:crypto');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-copytar-'));
  try {
    const dir = path.join(base, 'ctx');
    const long = `${'n'.repeat(120)}/${'m'.repeat(150)}`; // a pax path
    const files: Record<string, Buffer> = {
      'a.txt': Buffer.from('a'),
      'a-b/x': Buffer.from('ab'), // a/y before a-b/x, as the walk gives them (plain string order has '-' before '/')
      'a/y': Buffer.from('y'),
      'a b': Buffer.from('sp'),
      'big.bin': crypto.randomBytes((5 << 20) + 77), // across the addon's 2 MiB slots
      'exact.bin': crypto.randomBytes(2 << 20),
      'b512': crypto.randomBytes(512),
      empty: Buffer.alloc(0),
      'uni-ü/naïve file.txt': Buffer.from('x'),
      [long]: Buffer.from('long'),
    };
    for (const [f, d] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), d);
    }
    fs.linkSync(path.join(dir, 'a.txt'), path.join(dir, 'hard.txt'));
    fs.symlinkSync('a.txt', path.join(dir, 'link'));
    fs.chmodSync(path.join(dir, 'b512'), 0o4755);
    const { native } = await import('../../src/native.js');
    native().lsetxattr(path.join(dir, 'a.txt'), 'user.t', Buffer.from('v'), 0);
    const ctx = openCtx(path.join(base, 'store'));
    const entries = copyEntries(selectCopy({ dir, context: true }, ['.'], '/app/', W), [], { owner: { uid: 3, gid: 4 } }, 1234);
    const got = await writeEntriesLayer(ctx, entries);
    // the reference: the same entries through TarWriter alone, file data read by fileData
    const chunks: Buffer[] = [];
    const tar = new TarWriter((c) => void chunks.push(c), 1 << 16);
    // depth first, names sorted, component by component
    const walkOrder = (a: string, b: string) => {
      const [pa, pb] = [a.split('/'), b.split('/')];
      for (let i = 0; i < Math.min(pa.length, pb.length); i++) if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
      return pa.length - pb.length;
    };
    for (const rel of [...entries.keys()].sort(walkOrder)) {
      const e = entries.get(rel)!;
      const x = readXattrs(e.src ?? dir);
      const size = e.type === 'file' ? Number(e.st!.size) : 0;
      tar.header({ name: rel, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, size, mtime: e.mtime, linkname: e.linkname, xattrs: e.src && x.length ? new Map(x) : undefined });
      if (e.type === 'file') {
        const fd = fs.openSync(e.src!, 'r');
        tar.fileData(fd, size);
        fs.closeSync(fd);
      }
    }
    tar.finish();
    const want = Buffer.concat(chunks);
    const bytes = fs.readFileSync(got.blobTmp);
    assert.equal(bytes.length, want.length);
    assert.ok(bytes.equals(want), 'the same bytes');
    assert.equal(got.result.diffId, `sha256:${crypto.createHash('sha256').update(want).digest('hex')}`);
    assert.equal(got.result.size, want.length);
    fs.rmSync(got.blobTmp);

    // a file gone before the write: one-line error naming it, no temp blob left
    const again = copyEntries(selectCopy({ dir, context: true }, ['.'], '/app/', W), [], {}, 1234);
    fs.rmSync(path.join(dir, 'exact.bin'));
    const ingest = path.dirname(ctx.content.tempPath());
    const before = fs.readdirSync(ingest);
    await assert.rejects(writeEntriesLayer(ctx, again), (err: Error & { code?: string }) => {
      assert.match(err.message, /^COPY: cannot read .*exact\.bin: ENOENT/);
      assert.equal(err.code, 'SYSCALL');
      return true;
    });
    assert.deepEqual(fs.readdirSync(ingest), before);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
