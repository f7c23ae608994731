/** Content, layer and image stores: atomicity, verification and races. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ContentStore } from '../../src/content/store.js';
import { LayerStore } from '../../src/layers/store.js';
import { ImageStore } from '../../src/images/store.js';
import { sha256, chainIds } from '../../src/oci/digest.js';
import { TsrunError } from '../../src/util/errors.js';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-stores-'));
}

const ingestFiles = (root: string) => fs.readdirSync(path.join(root, 'content', 'ingest'));

test('content: ingest stores a blob under its digest and verifies it', async () => {
  const root = tmp();
  try {
    const cs = new ContentStore(root);
    const data = Buffer.from('hello layer');
    const info = await cs.ingest(Readable.from([data]), { digest: sha256(data), size: data.length });
    assert.equal(info.digest, sha256(data));
    assert.deepEqual(cs.readBytes(info.digest), data);
    assert.deepEqual(ingestFiles(root), []);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('content: a digest mismatch stores nothing and leaves no temp file', async () => {
  const root = tmp();
  try {
    const cs = new ContentStore(root);
    const data = Buffer.from('tampered');
    const want = sha256('original');
    await assert.rejects(cs.ingest(Readable.from([data]), { digest: want }), (e: unknown) => e instanceof TsrunError && e.code === 'DIGEST_MISMATCH');
    assert.equal(cs.has(want), false);
    assert.equal(cs.has(sha256(data)), false);
    assert.deepEqual(ingestFiles(root), []);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('content: more bytes than the descriptor size fail early with nothing stored', async () => {
  const root = tmp();
  try {
    const cs = new ContentStore(root);
    const data = Buffer.alloc(4096, 1);
    await assert.rejects(cs.ingest(Readable.from([data]), { size: 100 }), (e: unknown) => e instanceof TsrunError && e.code === 'TOO_LARGE');
    assert.deepEqual(cs.list(), []);
    assert.deepEqual(ingestFiles(root), []);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('content: tee hands the same bytes to a consumer while storing', async () => {
  const root = tmp();
  try {
    const cs = new ContentStore(root);
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(65536, i));
    let seen = 0;
    const info = await cs.ingest(Readable.from(chunks), {}, async (copy) => {
      for await (const c of copy) seen += (c as Buffer).length;
    });
    assert.equal(seen, 64 * 65536);
    assert.equal(info.size, 64 * 65536);
    assert.equal(cs.size(info.digest), 64 * 65536);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('content: a failing tee consumer stores nothing', async () => {
  const root = tmp();
  try {
    const cs = new ContentStore(root);
    await assert.rejects(
      cs.ingest(Readable.from([Buffer.from('abc')]), {}, async () => {
        throw new TsrunError('INVALID_ARCHIVE', 'bad tar');
      }),
      /bad tar/,
    );
    assert.deepEqual(cs.list(), []);
    assert.deepEqual(ingestFiles(root), []);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('layers: a failing fill leaves neither the layer nor a temp dir', async () => {
  const root = tmp();
  try {
    const ls = new LayerStore(root);
    const d = sha256('diff');
    await assert.rejects(
      ls.ensure(d, null, d, async (dir) => {
        fs.writeFileSync(path.join(dir, 'half'), 'x');
        throw new Error('unpack failed');
      }),
      /unpack failed/,
    );
    assert.equal(ls.has(d), false);
    assert.deepEqual(fs.readdirSync(path.join(root, 'layers', '.tmp')), []);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('layers: two processes racing to unpack the same layer unpack it once', async () => {
  const root = tmp();
  try {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const storeJs = path.resolve(here, '../../src/layers/store.js');
    const d = sha256('race');
    const script = `
      import { LayerStore } from ${JSON.stringify(storeJs)};
      import fs from 'node:fs';
      const ls = new LayerStore(${JSON.stringify(root)});
      await ls.ensure(${JSON.stringify(d)}, null, ${JSON.stringify(d)}, async (dir) => {
        fs.appendFileSync(${JSON.stringify(path.join(root, 'fills'))}, 'x');
        await new Promise((r) => setTimeout(r, 300));
        fs.writeFileSync(dir + '/f', 'data');
        return { size: 4 };
      });`;
    const run = () =>
      new Promise<number>((resolve) => {
        const p = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
        p.on('exit', (code) => resolve(code ?? -1));
      });
    const codes = await Promise.all([run(), run(), run()]);
    assert.deepEqual(codes, [0, 0, 0]);
    assert.equal(fs.readFileSync(path.join(root, 'fills'), 'utf8'), 'x');
    const ls = new LayerStore(root);
    assert.equal(fs.readFileSync(path.join(ls.diffDir(d), 'f'), 'utf8'), 'data');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('layers: gc removes only layers outside the keep set', async () => {
  const root = tmp();
  try {
    const ls = new LayerStore(root);
    const [a, b] = chainIds([sha256('a'), sha256('b')]) as [string, string];
    for (const c of [a, b]) await ls.ensure(c, null, c, async () => ({ size: 0 }));
    assert.deepEqual(ls.gc(new Set([a])), [b]);
    assert.equal(ls.has(a), true);
    assert.equal(ls.has(b), false);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('images: resolve by name, full ID, unique prefix; ambiguous prefix refused', () => {
  const root = tmp();
  try {
    const cs = new ContentStore(root);
    const is = new ImageStore(root, cs);
    const id1 = 'sha256:ab' + '1'.repeat(62);
    const id2 = 'sha256:ab' + '2'.repeat(62);
    is.add({ id: id1, manifest: sha256('m1'), mediaType: 'x' }, ['docker.io/library/busybox:latest']);
    is.add({ id: id2, manifest: sha256('m2'), mediaType: 'x' }, ['localhost:5000/app:1']);
    assert.equal(is.resolve('busybox').id, id1);
    assert.equal(is.resolve('docker.io/library/busybox:latest').id, id1);
    assert.equal(is.resolve('localhost:5000/app:1').id, id2);
    assert.equal(is.resolve(id2).id, id2);
    assert.equal(is.resolve('ab2').id, id2);
    assert.throws(() => is.resolve('ab'), (e: unknown) => e instanceof TsrunError && e.code === 'AMBIGUOUS');
    assert.throws(() => is.resolve('nothere'), (e: unknown) => e instanceof TsrunError && e.code === 'NOT_FOUND');
    assert.equal(is.resolve(`busybox@${sha256('m1')}`).id, id1);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
