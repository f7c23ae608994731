/** load and save through the real CLI: round trips, concurrency, SIGKILL mid-load. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { tempRoot, tsrun, tsrunOk, importBusybox, tsrunSpawn, TSRUN } from '../helpers/cli.js';
import { dockerArchive, layerTar } from '../unit/archivefixture.js';

const t = tempRoot('tsrun-load-');
after(() => t.cleanup());

const layerDirs = (root: string) => fs.readdirSync(path.join(root, 'layers')).filter((n) => /^[a-f0-9]{64}$/.test(n));

test('save → load round trip keeps the image ID (docker-archive and oci-archive, file and stdio)', () => {
  const id = importBusybox(t.root, 'busybox:latest');
  for (const format of ['docker-archive', 'oci-archive']) {
    const file = path.join(t.scratch, `bb-${format}.tar`);
    tsrunOk(t.root, ['save', '--format', format, '-o', file, 'busybox']);
    const other = tempRoot('tsrun-load2-');
    try {
      const out = tsrunOk(other.root, ['load', '-i', file]);
      assert.equal(out, 'Loaded image: busybox:latest\n');
      const [img] = JSON.parse(tsrunOk(other.root, ['image', 'inspect', 'busybox']));
      assert.equal(img.Id, id);
      // again through stdin / stdout
      const piped = spawnSync('sh', ['-c', `"$0" "$1" --root "$2" save --format "$4" busybox | "$0" "$1" --root "$3" load -q`, process.execPath, TSRUN, t.root, other.root, format]);
      assert.equal(piped.status, 0, piped.stderr.toString());
      assert.equal(piped.stdout.toString(), '');
    } finally {
      other.cleanup();
    }
  }
});

test('save is deterministic and saved by ID is untagged', () => {
  const a = path.join(t.scratch, 'a.tar');
  const b = path.join(t.scratch, 'b.tar');
  tsrunOk(t.root, ['save', '-o', a, 'busybox']);
  tsrunOk(t.root, ['save', '-o', b, 'busybox']);
  assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)));
  const id = JSON.parse(tsrunOk(t.root, ['image', 'inspect', 'busybox']))[0].Id as string;
  const c = path.join(t.scratch, 'c.tar');
  tsrunOk(t.root, ['save', '-o', c, id.slice(7, 19)]);
  const other = tempRoot('tsrun-load3-');
  try {
    assert.equal(tsrunOk(other.root, ['load', '-i', c]), `Loaded image ID: ${id}\n`);
  } finally {
    other.cleanup();
  }
  const r = tsrun(t.root, ['save', '-o', path.join(t.scratch, 'x.tar'), 'nope']);
  assert.notEqual(r.code, 0);
  assert.ok(!fs.existsSync(path.join(t.scratch, 'x.tar')));
  assert.deepEqual(fs.readdirSync(t.scratch).filter((n) => n.startsWith('.tmp-')), [], 'no temp file left');
});

test('two-layer image: load, history rows, shared base layer', async () => {
  const l1 = await layerTar({ 'a.txt': 'a\n' });
  const l2 = await layerTar({ 'b.txt': 'b\n' });
  const file = path.join(t.scratch, 'two.tar');
  fs.writeFileSync(file, await dockerArchive({ layers: [l1, l2], tags: ['two:1'] }));
  assert.equal(tsrunOk(t.root, ['load', '-i', file]), 'Loaded image: two:1\n');
  const rows = tsrunOk(t.root, ['history', 'two:1']).trim().split('\n');
  assert.equal(rows.length, 3);
  assert.match(rows[1]!, /^[a-f0-9]{12}\s+.+ago\s+\/bin\/sh -c #\(nop\) ADD layer1\s+2B\s*$/);
  assert.match(rows[2]!, /^<missing>\s+/);
});

test('three concurrent loads of the same archive: all succeed, one layer dir', async () => {
  const other = tempRoot('tsrun-conc-');
  try {
    const file = path.join(t.scratch, 'bb-docker-archive.tar');
    const runs = [0, 1, 2].map(
      () =>
        new Promise<number>((resolve) => {
          const p = spawn(process.execPath, [TSRUN, '--root', other.root, 'load', '-q', '-i', file], { stdio: 'ignore' });
          p.on('close', (code) => resolve(code ?? -1));
        }),
    );
    assert.deepEqual(await Promise.all(runs), [0, 0, 0]);
    assert.equal(layerDirs(other.root).length, 1);
    assert.deepEqual(fs.readdirSync(path.join(other.root, 'content', 'ingest')), []);
  } finally {
    other.cleanup();
  }
});

test('SIGKILL mid-load leaves a consistent store; the next load works', async () => {
  const other = tempRoot('tsrun-kill-');
  try {
    // a large archive: many files so the unpack takes a while
    const files: Record<string, string> = {};
    for (let i = 0; i < 20000; i++) files[`d${i % 20}/f${i}`] = 'x'.repeat(i % 3000);
    const big = path.join(other.scratch, 'big.tar');
    fs.writeFileSync(big, await dockerArchive({ layers: [await layerTar(files)], tags: ['big:1'] }));
    const p = tsrunSpawn(other.root, ['load', '-i', big]);
    let ended = false;
    const closed = new Promise((r) => p.on('close', () => r((ended = true)))); // a load that ends first must not hang the test
    // kill it mid-unpack, not after a fixed delay (a fast load would be done by then): once a
    // layer's files are arriving under layers/.tmp/PID-RAND/diff
    const tmp = path.join(other.root, 'layers', '.tmp');
    const unpacking = () => {
      try {
        return fs.readdirSync(tmp).some((d) => fs.readdirSync(path.join(tmp, d, 'diff')).length > 0);
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 60_000;
    while (!ended && !unpacking() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    assert.ok(!ended, 'the load ended before the test saw its unpack (make the archive bigger)');
    p.kill('SIGKILL');
    await closed;
    assert.equal(tsrunOk(other.root, ['images', '-q']), '', 'no tag');
    for (const d of layerDirs(other.root)) assert.ok(fs.existsSync(path.join(other.root, 'layers', d, 'layer.json')), 'no layer dir without layer.json');
    assert.equal(tsrunOk(other.root, ['load', '-i', big]), 'Loaded image: big:1\n');
    assert.equal(layerDirs(other.root).length, 1);
    tsrunOk(other.root, ['image', 'prune', '-a', '-f']); // sweeps what the killed load left
    assert.deepEqual(fs.readdirSync(path.join(other.root, 'content', 'ingest')), []);
    assert.deepEqual(fs.readdirSync(path.join(other.root, 'layers', '.tmp')), []);
  } finally {
    other.cleanup();
  }
});
