/**
 * blob-writer (src/diff/blob-writer.ts) and writeLayerFile's use of it: the
 * worker path gives the same bytes and digest as the single-thread path, a
 * walk that throws half-way stops the worker before the fd is closed (the
 * file stops growing), and a write error in the worker reaches the caller.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { BlobWriter } from '../../src/diff/blob-writer.js';
import { writeLayerFile } from '../../src/diff/compare.js';
import { TsrunError } from '../../src/util/errors.js';

function sandbox(t: { after(fn: () => void): void }): string {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-blobw-'));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  return base;
}

/** A tree of `n` files of varied sizes (some larger than the tiny test slots). */
function tree(base: string, n: number): string {
  const upper = path.join(base, 'upper');
  for (let i = 0; i < n; i++) {
    const d = path.join(upper, `d${i % 7}`);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, `f${i}`), crypto.randomBytes((i * 997) % 70_000));
  }
  return upper;
}

const sha = (file: string) => 'sha256:' + crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('blob-writer', () => {
  test('worker and single-thread paths write the same bytes and digest', (t) => {
    const base = sandbox(t);
    const upper = tree(base, 300);
    const results = [
      { workerAfter: Infinity }, // all here
      { workerAfter: Infinity, slots: 2, slotSize: 16384 }, // here, ring wraps many times
      { workerAfter: 0, slots: 2, slotSize: 16384 }, // worker from the start, constant back-pressure
      { workerAfter: 100_000, slots: 16, slotSize: 8192 }, // worker started late
      {}, // defaults (small tree: no worker)
    ].map((pipeline, i) => {
      const file = path.join(base, `l${i}.tar`);
      const r = writeLayerFile(upper, file, { pipeline });
      assert.equal(r.diffId, sha(file), JSON.stringify(pipeline));
      assert.equal(r.size, fs.statSync(file).size);
      return { r, bytes: fs.readFileSync(file) };
    });
    for (const x of results.slice(1)) {
      assert.equal(x.r.diffId, results[0]!.r.diffId);
      assert.ok(x.bytes.equals(results[0]!.bytes));
    }
  });

  test('skipSync is asked with the digest', (t) => {
    const base = sandbox(t);
    const upper = tree(base, 20);
    const asked: string[] = [];
    const r = writeLayerFile(upper, path.join(base, 'l.tar'), { pipeline: { workerAfter: 0, slotSize: 4096 }, skipSync: (d) => (asked.push(d), true) });
    assert.deepEqual(asked, [r.diffId]);
  });

  test('a walk that throws half-way stops the worker: the file stops growing', async (t) => {
    const base = sandbox(t);
    const upper = tree(base, 400);
    const file = path.join(base, 'l.tar');
    let calls = 0;
    const exclude = {
      has: () => {
        if (++calls > 200) throw new Error('boom');
        return false;
      },
    } as unknown as ReadonlySet<string>;
    assert.throws(() => writeLayerFile(upper, file, { exclude, pipeline: { workerAfter: 0, slots: 2, slotSize: 16384 } }), /boom/);
    const size = fs.statSync(file).size;
    assert.ok(size > 0, 'the worker wrote before the walk failed');
    await sleep(100);
    assert.equal(fs.statSync(file).size, size);
  });

  test('a write error in the worker reaches the caller', (t) => {
    const base = sandbox(t);
    const file = path.join(base, 'ro');
    fs.writeFileSync(file, '');
    const fd = fs.openSync(file, 'r'); // writes fail with EBADF
    try {
      const w = new BlobWriter(fd, { workerAfter: 0, slots: 2, slotSize: 4096 });
      assert.throws(
        () => {
          let buf = w.first();
          for (let i = 0; i < 10; i++) buf = w.push(buf.subarray(0, 4096));
          w.finish();
        },
        (err: unknown) => err instanceof TsrunError && err.code === 'SYSCALL' && /EBADF/.test(err.message),
      );
    } finally {
      fs.closeSync(fd);
    }
  });
});
