/**
 * COPY of a context seen for the first time writes its layer before its cache key: the
 * layer writer hashes each file as it copies it (one read, not two) and those checksums
 * make the key. The layer and the key must be exactly those of the usual order (key from
 * the checksums, then the layer): same image IDs under --timestamp, cache hits for an
 * unchanged or merely touched context (the layer written first is thrown away, nothing is
 * left in the store's ingest dir), a miss for one changed byte.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, tsrunOk, importBusybox, type TempRoot } from '../helpers/cli.js';

let tr: TempRoot;
let dir: string;

before(() => {
  tr = tempRoot('tsrun-build-copycache-');
  importBusybox(tr.root);
  dir = path.join(tr.scratch, 'ctx');
  for (let i = 0; i < 60; i++) {
    const f = path.join(dir, `d${i % 4}`, `sub${i % 3}`, `f${i}.bin`);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, Buffer.alloc(1000 + i * 997, i));
  }
  fs.writeFileSync(path.join(dir, 'big.bin'), Buffer.alloc(3 << 20, 'x'));
  fs.symlinkSync('big.bin', path.join(dir, 'link'));
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\nCOPY . /data\nRUN cat /data/d1/sub1/f1.bin | wc -c > /size\n');
});
after(() => tr.cleanup());

/** Build with --timestamp 0; the image ID and whether the COPY step was cached. */
function build(extra: string[] = []): { id: string; copy: 'CACHED' | 'DONE' } {
  const iid = path.join(tr.scratch, 'iid');
  const r = tsrun(tr.root, ['build', '--network', 'none', '--timestamp', '0', '--progress', 'plain', '--iidfile', iid, ...extra, dir]);
  assert.equal(r.code, 0, r.stderr);
  const v = /^#(\d+) \[[^\]]+\] COPY \. \/data$/m.exec(r.stderr)?.[1];
  assert.ok(v, r.stderr);
  const copy = new RegExp(`^#${v} CACHED$`, 'm').test(r.stderr) ? 'CACHED' : 'DONE';
  return { id: fs.readFileSync(iid, 'utf8'), copy };
}

const sums = () => JSON.parse(fs.readFileSync(path.join(tr.root, 'build-cache', 'filesums.json'), 'utf8')) as Record<string, { sum: string }>;
const ingest = () => fs.readdirSync(path.join(tr.root, 'content', 'ingest'));

test('a first COPY keys and writes as the usual order does; touched files hit; one byte misses', () => {
  const first = build();
  assert.equal(first.copy, 'DONE');
  // the writer recorded every file's checksum
  const known = sums();
  assert.equal(Object.keys(known).filter((k) => k.startsWith(dir + '/')).length, 62); // 60 + big.bin + the Dockerfile
  assert.equal(build().copy, 'CACHED');
  // --no-cache with every checksum known: the key first, then the layer: the same image
  const again = build(['--no-cache']);
  assert.equal(again.copy, 'DONE');
  assert.equal(again.id, first.id);
  // every file touched: no checksum matches its stat, the layer is written first and thrown away on the hit
  const later = new Date(Date.now() + 60_000);
  const touch = (d: string) => {
    for (const n of fs.readdirSync(d)) {
      const p = path.join(d, n);
      if (fs.lstatSync(p).isDirectory()) touch(p);
      else if (!fs.lstatSync(p).isSymbolicLink()) fs.utimesSync(p, later, later);
    }
  };
  touch(dir);
  const touched = build();
  assert.equal(touched.copy, 'CACHED');
  assert.equal(touched.id, first.id);
  assert.deepEqual(ingest(), []);
  // one byte: the COPY reruns, and the image has it
  const fd = fs.openSync(path.join(dir, 'big.bin'), 'r+');
  fs.writeSync(fd, Buffer.from('Y'), 0, 1, 12345);
  fs.closeSync(fd);
  const changed = build();
  assert.equal(changed.copy, 'DONE');
  assert.notEqual(changed.id, first.id);
  assert.equal(tsrunOk(tr.root, ['run', '--rm', '--network', 'none', changed.id, 'sh', '-c', 'dd if=/data/big.bin bs=1 skip=12345 count=1 2>/dev/null']), 'Y');
  // the checksums forgotten (builder prune -a removes them): written first again, and still the same key
  fs.rmSync(path.join(tr.root, 'build-cache', 'filesums.json'));
  assert.equal(build().copy, 'CACHED');
  assert.deepEqual(ingest(), []);
});
