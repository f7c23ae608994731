/** import, images, tag, rmi, image prune, history, image inspect through the real CLI. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { tempRoot, tsrun, tsrunOk, busyboxTar, snapshotTree } from '../helpers/cli.js';

const t = tempRoot('tsrun-images-');
after(() => t.cleanup());

function failsCleanly(args: string[], opts: { input?: Buffer } = {}) {
  const before = snapshotTree(t.root);
  const r = tsrun(t.root, args, opts);
  assert.notEqual(r.code, 0, `${args.join(' ')} should fail`);
  assert.match(r.stderr, /^tsrun: [^\n]+\n$/, r.stderr);
  assert.deepEqual(snapshotTree(t.root), before, 'the store did not change');
  return r;
}

test('import: plain, gzip, zstd, stdin; one layer dir for the same content', () => {
  const tar = busyboxTar();
  const id1 = tsrunOk(t.root, ['import', tar, 'bb:plain']).trim();
  assert.match(id1, /^sha256:[a-f0-9]{64}$/);
  const gz = path.join(t.scratch, 'bb.tar.gz');
  fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(tar)));
  const zst = path.join(t.scratch, 'bb.tar.zst');
  assert.equal(spawnSync('zstd', ['-q', '-f', tar, '-o', zst]).status, 0);
  tsrunOk(t.root, ['import', gz, 'bb:gz']);
  tsrunOk(t.root, ['import', zst, 'bb:zst']);
  tsrunOk(t.root, ['import', '-m', 'from stdin', '-c', 'CMD ["sh"]', '-', 'bb:stdin'], { input: fs.readFileSync(tar) });
  const layers = fs.readdirSync(path.join(t.root, 'layers')).filter((n) => /^[a-f0-9]{64}$/.test(n));
  assert.equal(layers.length, 1, 'the same rootfs unpacks once');
  const inspect = JSON.parse(tsrunOk(t.root, ['image', 'inspect', 'bb:stdin']));
  assert.deepEqual(inspect[0].Config.Cmd, ['sh']);
  assert.equal(inspect[0].Comment, 'from stdin');
  // the diff_id is the uncompressed tar's sha256 (for a plain tar, the blob's own digest, hashed once)
  const diffId = `sha256:${createHash('sha256').update(fs.readFileSync(tar)).digest('hex')}`;
  for (const ref of ['bb:plain', 'bb:gz', 'bb:stdin']) assert.deepEqual(JSON.parse(tsrunOk(t.root, ['image', 'inspect', ref]))[0].RootFS.Layers, [diffId], ref);
});

test('import: bad input fails cleanly', () => {
  failsCleanly(['import', path.join(t.scratch, 'missing.tar'), 'x:1']);
  failsCleanly(['import', busyboxTar(), 'Bad:Ref']);
  failsCleanly(['import', '-c', 'RUN echo', busyboxTar(), 'x:1']);
  const notTar = path.join(t.scratch, 'not.tar');
  fs.writeFileSync(notTar, 'definitely not a tarball'.repeat(100));
  failsCleanly(['import', notTar, 'x:1']);
});

test('images: columns, -q, --no-trunc, filter, json; tag', () => {
  tsrunOk(t.root, ['tag', 'bb:plain', 'other/repo:v1']);
  const out = tsrunOk(t.root, ['images']);
  const lines = out.trim().split('\n');
  assert.match(lines[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
  assert.ok(lines.some((l) => /^other\/repo\s+v1\s+[a-f0-9]{12}\s+.+ago\s+[\d.]+MB$/.test(l)), out);
  const ids = tsrunOk(t.root, ['images', '-q']).trim().split('\n');
  assert.ok(ids.every((i) => /^[a-f0-9]{12}$/.test(i)));
  assert.equal(new Set(ids).size, ids.length, 'unique IDs');
  assert.match(tsrunOk(t.root, ['images', '-q', '--no-trunc']), /^sha256:[a-f0-9]{64}$/m);
  const filtered = tsrunOk(t.root, ['images', 'bb']).trim().split('\n');
  assert.equal(filtered.length, 1 + 4);
  assert.equal(tsrunOk(t.root, ['images', 'bb:gz']).trim().split('\n').length, 2);
  const json = tsrunOk(t.root, ['images', '--format', 'json', 'other/repo']).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(json[0].Repository, 'other/repo');
  assert.equal(json[0].Tag, 'v1');
  assert.deepEqual(tsrunOk(t.root, ['image', 'ls', '-q']), tsrunOk(t.root, ['images', '-q']));
});

test('history: import row, and a two-layer image loaded from an archive', () => {
  const out = tsrunOk(t.root, ['history', 'bb:stdin']).trim().split('\n');
  assert.match(out[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
  assert.equal(out.length, 2);
  assert.match(out[1]!, /^[a-f0-9]{12}\s+.+ago\s+import\s+[\d.]+MB\s+from stdin$/);
  const raw = tsrunOk(t.root, ['history', '-H=false', '--no-trunc', 'bb:stdin']).trim().split('\n');
  assert.match(raw[1]!, /^sha256:[a-f0-9]{64}\s+\d{4}-\d\d-\d\dT\S+\s+import\s+\d+\s+from stdin$/);
  assert.match(tsrunOk(t.root, ['history', '-q', 'bb:stdin']), /^[a-f0-9]{12}\n$/);
});

test('inspect: docker keys', () => {
  const [img] = JSON.parse(tsrunOk(t.root, ['image', 'inspect', 'other/repo:v1']));
  for (const k of ['Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'Author', 'Config', 'Architecture', 'Os', 'Size', 'RootFS', 'History', 'Metadata']) {
    assert.ok(k in img, k);
  }
  assert.deepEqual(img.RepoTags.sort(), ['bb:plain', 'other/repo:v1']);
  assert.equal(img.RootFS.Type, 'layers');
  assert.equal(img.RootFS.Layers.length, 1);
  const r = tsrun(t.root, ['image', 'inspect', 'nope:1']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^tsrun: No such image: nope:1/);
});

test('rmi: untag, refuse ID with several tags, -f, delete + gc', () => {
  const id = tsrunOk(t.root, ['image', 'inspect', 'bb:plain']).match(/"Id": "(sha256:[a-f0-9]+)"/)![1]!;
  failsCleanly(['rmi', id.slice(7, 19)]);
  assert.equal(tsrunOk(t.root, ['rmi', 'other/repo:v1']), 'Untagged: other/repo:v1\n');
  assert.equal(tsrunOk(t.root, ['rmi', 'bb:plain']), `Untagged: bb:plain\nDeleted: ${id}\n`);
  failsCleanly(['rmi', 'bb:plain']);
  tsrunOk(t.root, ['tag', 'bb:gz', 'bb:gz2']);
  assert.match(tsrunOk(t.root, ['rmi', '-f', 'bb:gz']), /^Untagged: bb:gz\n$/);
  // layers stay while another image uses them
  assert.equal(fs.readdirSync(path.join(t.root, 'layers')).filter((n) => /^[a-f0-9]{64}$/.test(n)).length, 1);
});

test('image prune: dangling, then -a', () => {
  tsrunOk(t.root, ['import', busyboxTar()]); // untagged
  const before = tsrunOk(t.root, ['images', '-q']).trim().split('\n').length;
  const out = tsrunOk(t.root, ['image', 'prune', '-f']);
  assert.match(out, /^Deleted Images:\ndeleted: sha256:[a-f0-9]{64}\n\nTotal reclaimed space: .+\n$/);
  assert.equal(tsrunOk(t.root, ['images', '-q']).trim().split('\n').length, before - 1);
  assert.match(tsrunOk(t.root, ['image', 'prune', '-a', '-f']), /Total reclaimed space: [\d.]+MB/);
  assert.equal(tsrunOk(t.root, ['images', '-q']), '');
  assert.deepEqual(fs.readdirSync(path.join(t.root, 'layers')).filter((n) => /^[a-f0-9]{64}$/.test(n)), []);
  assert.deepEqual(fs.readdirSync(path.join(t.root, 'content', 'blobs', 'sha256')), []);
  assert.equal(tsrunOk(t.root, ['image', 'prune', '-f']), 'Total reclaimed space: 0B\n');
});
