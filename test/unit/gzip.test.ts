/**
 * gzipDeflate (native/addon/gzip.c) and the parallel gzip stream push uses
 * (src/registry/pgzip.ts): every output must gunzip, with node:zlib, to
 * exactly the input — alone and as concatenated members.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { native } from '../../src/native.js';
import { gzipFileParallel, pieceCompressor } from '../../src/registry/pgzip.js';

function gzipDeflate(): (input: Uint8Array, level: number) => Promise<Buffer> {
  const fn = native().gzipDeflate;
  assert.equal(typeof fn, 'function', 'the addon has gzipDeflate (rebuild it: npx node-gyp build)');
  return fn!;
}

/** Text-like bytes: words picked at random (crypto), compressible but not trivially. */
function compressible(size: number): Buffer {
  const words = ['usr', 'bin', 'lib', 'share', 'locale', 'README', 'LICENSE', 'x86_64', '\n', ' ', '0123', 'busybox', 'etc/', '.so.6'];
  const pick = crypto.randomBytes(size);
  const out = Buffer.alloc(size);
  for (let i = 0, j = 0; i < size; j++) i += out.write(words[pick[j]! % words.length]!, i);
  return out;
}

async function roundTrip(input: Buffer, level = 6): Promise<Buffer> {
  const gz = await gzipDeflate()(input, level);
  assert.ok(Buffer.isBuffer(gz));
  assert.equal(gz[0], 0x1f);
  assert.equal(gz[1], 0x8b);
  assert.deepEqual(zlib.gunzipSync(gz), input);
  return gz;
}

test('gzipDeflate: empty input gives a valid gzip of nothing', async () => {
  const gz = await roundTrip(Buffer.alloc(0));
  assert.ok(gz.length >= 18 && gz.length < 32);
});

test('gzipDeflate: small input, every level from 0 to 12', async () => {
  const input = Buffer.from('hello, tsrun\n'.repeat(5));
  for (let level = 0; level <= 12; level++) await roundTrip(input, level);
});

test('gzipDeflate: 10 MiB of random bytes (incompressible)', async () => {
  const input = crypto.randomBytes(10 * 1024 * 1024);
  const gz = await roundTrip(input);
  assert.ok(gz.length < input.length + 64 * 1024, 'stored blocks add little');
});

// On real layers (the bench image, C headers, Perl sources) libdeflate 6 is as small as zlib 6 or smaller;
// on this synthetic word salad it is a few percent larger, so the bound is loose.
test('gzipDeflate: 10 MiB compressible, about as small as zlib level 6', async () => {
  const input = compressible(10 * 1024 * 1024);
  const gz = await roundTrip(input);
  const z = zlib.gzipSync(input, { level: 6 });
  assert.ok(gz.length < input.length / 2);
  assert.ok(gz.length < z.length * 1.1, `libdeflate ${gz.length} vs zlib ${z.length}`);
});

test('gzipDeflate: accepts a Uint8Array view into a larger buffer', async () => {
  const big = compressible(1 << 20);
  const view = new Uint8Array(big.buffer, big.byteOffset + 1000, 5000);
  assert.deepEqual(zlib.gunzipSync(await gzipDeflate()(view, 6)), Buffer.from(view));
});

test('gzipDeflate: concatenated members gunzip to the concatenated inputs', async () => {
  const parts = [compressible(3 << 20), crypto.randomBytes(1 << 20), Buffer.alloc(0), Buffer.from('tail')];
  const members = await Promise.all(parts.map((p) => gzipDeflate()(p, 6)));
  assert.deepEqual(zlib.gunzipSync(Buffer.concat(members)), Buffer.concat(parts));
});

test('gzipDeflate: many concurrent calls all come back right and in their own order', async () => {
  const inputs = Array.from({ length: 12 }, (_, i) => (i % 2 ? crypto.randomBytes(300_000 + i) : compressible(1_000_000 + i)));
  const outs = await Promise.all(inputs.map((b, i) => gzipDeflate()(b, 1 + (i % 9))));
  outs.forEach((gz, i) => assert.deepEqual(zlib.gunzipSync(gz), inputs[i]));
});

test('gzipDeflate: runs off the JS thread (the event loop turns while it works)', async () => {
  const input = compressible(8 << 20);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    await Promise.all([gzipDeflate()(input, 9), gzipDeflate()(input, 9)]);
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticks > 0, 'timers fired while compressing');
});

test('gzipDeflate: bad arguments throw synchronously', () => {
  const fn = gzipDeflate();
  for (const bad of ['text', 42, null, undefined, [1, 2], new ArrayBuffer(4)]) {
    assert.throws(() => fn(bad as unknown as Buffer, 6), (e: NodeJS.ErrnoException) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
  }
  assert.throws(() => fn(Buffer.from('x'), '6' as unknown as number), TypeError);
  assert.throws(() => fn(Buffer.from('x'), undefined as unknown as number), TypeError);
  assert.throws(() => fn(Buffer.from('x'), 13), RangeError);
  assert.throws(() => fn(Buffer.from('x'), -1), RangeError);
});

test('pieceCompressor: uses the addon when present', async () => {
  const gz = await pieceCompressor()(Buffer.from('abc'), 6);
  assert.deepEqual(zlib.gunzipSync(gz), Buffer.from('abc'));
});

test('gzipFileParallel: a file of several pieces gunzips to the file, with the addon and with the zlib fallback', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-gzip-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'layer.tar');
  const data = Buffer.concat([compressible(9 << 20), crypto.randomBytes(123_457)]); // 3 pieces, the last one short
  fs.writeFileSync(file, data);
  const zlibPiece = (b: Buffer, level: number) => new Promise<Buffer>((res, rej) => zlib.gzip(b, { level }, (e, r) => (e ? rej(e) : res(r))));
  for (const gzip of [pieceCompressor(), zlibPiece]) {
    const chunks: Buffer[] = [];
    for await (const c of gzipFileParallel(file, 6, 3, gzip)) chunks.push(c as Buffer);
    assert.equal(chunks.length, 3);
    assert.deepEqual(zlib.gunzipSync(Buffer.concat(chunks)), data);
  }
  const empty = path.join(dir, 'empty');
  fs.writeFileSync(empty, '');
  const chunks: Buffer[] = [];
  for await (const c of gzipFileParallel(empty)) chunks.push(c as Buffer);
  assert.deepEqual(zlib.gunzipSync(Buffer.concat(chunks)), Buffer.alloc(0));
});
