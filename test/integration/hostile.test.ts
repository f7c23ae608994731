/**
 * Hostile archives and layers through `tsrun load` / `tsrun import`: each is
 * refused with one "tsrun: …" line, the store is left exactly as it was, and
 * nothing is written outside it.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, importBusybox, snapshotTree } from '../helpers/cli.js';
import { buildTar, type FixtureEntry } from '../unit/tarfixture.js';
import { dockerArchive, ociArchive, layerTar, configFor, hex } from '../unit/archivefixture.js';
import { sha256 } from '../../src/oci/digest.js';

const t = tempRoot('tsrun-hostile-');
const outside = path.join(t.scratch, 'outside');
after(() => t.cleanup());
before(() => {
  fs.mkdirSync(outside);
  importBusybox(t.root, 'busybox:latest'); // a store with content that must survive
});

/** The store's files, minus per-layer lock files (flock files hold no data and appear on first use). */
const snapshot = () => snapshotTree(t.root).filter((l) => !l.startsWith('layers/.locks/'));

function refused(name: string, archive: Buffer, code: RegExp, opts: { env?: Record<string, string>; cmd?: string[] } = {}) {
  const file = path.join(t.scratch, `${name}.tar`);
  fs.writeFileSync(file, archive);
  const beforeSnap = snapshot();
  const r = tsrun(t.root, [...(opts.cmd ?? ['load', '-i']), file, ...(opts.cmd?.[0] === 'import' ? ['hostile:1'] : [])], { env: opts.env });
  assert.notEqual(r.code, 0, `${name}: should fail`);
  assert.match(r.stderr, /^tsrun: [^\n]+\n$/, `${name}: one line: ${r.stderr}`);
  assert.match(r.stderr, code, name);
  assert.deepEqual(snapshot(), beforeSnap, `${name}: the store did not change`);
  assert.deepEqual(fs.readdirSync(outside), [], `${name}: nothing written outside`);
}

const withLayer = async (entries: FixtureEntry[]) => dockerArchive({ layers: [await buildTar(entries)] });

test('archive members that escape or repeat', async () => {
  refused('dotdot-member', await dockerArchive({ extra: [{ name: '../../escape', content: 'x' }] }), /escapes the root/);
  refused('abs-dotdot-member', await dockerArchive({ extra: [{ name: '/../escape', content: 'x' }] }), /escapes the root/);
  refused('dup-member', await dockerArchive({ extra: [{ name: 'manifest.json', content: '[]' }] }), /appears twice/);
  refused('symlink-member-escape', await dockerArchive({ extra: [{ name: 'x', type: 'symlink', linkname: '../../../etc/passwd' }] }), /escapes the root/);
});

test('layer entries that escape: ../, absolute, symlink parent, hardlink outside', async () => {
  refused('layer-dotdot', await withLayer([{ name: '../../evil', content: 'x' }]), /escapes the root/);
  refused('layer-abs-dotdot', await withLayer([{ name: '/../../evil', content: 'x' }]), /escapes the root/);
  refused(
    'layer-symlink-parent',
    await withLayer([
      { name: 'out', type: 'symlink', linkname: outside },
      { name: 'out/pwned', content: 'x' },
    ]),
    /symlink/,
  );
  refused('layer-hardlink-outside', await withLayer([{ name: 'hl', type: 'link', linkname: '../../../etc/passwd' }]), /outside|escape/);
  refused('layer-hardlink-abs', await withLayer([{ name: 'hl', type: 'link', linkname: '/etc/passwd' }]), /hardlink/);
});

test('layer entries that are malformed: duplicates, bare .wh., tar bomb by entry count', async () => {
  refused(
    'layer-dup',
    await withLayer([
      { name: 'a', content: '1' },
      { name: 'a', content: '2' },
    ]),
    /duplicate/,
  );
  refused('layer-bare-wh', await withLayer([{ name: 'etc/.wh.' }]), /bare whiteout/);
  const many: FixtureEntry[] = [];
  for (let i = 0; i < 50; i++) many.push({ name: `f${i}`, content: 'x' });
  refused('layer-bomb', await withLayer(many), /more than 10 entries/, { env: { TSRUN_MAX_LAYER_ENTRIES: '10' } });
  refused('import-bomb', await buildTar(many), /more than 10 entries/, { env: { TSRUN_MAX_LAYER_ENTRIES: '10' }, cmd: ['import'] });
  refused('import-dotdot', await buildTar([{ name: '../x', content: 'x' }]), /escapes the root/, { cmd: ['import'] });
});

test('blobs that do not match their descriptors', async () => {
  refused('layer-digest', await dockerArchive({ tamperLayer: true }), /digest/);
  refused('oci-size', await ociArchive({ layerDesc: (d) => (d.size += 1) }), /bytes, its descriptor says/);
  refused('oci-digest', await ociArchive({ layerDesc: (d) => (d.digest = sha256('something else')) }), /not in the archive/);
  // a layer that is valid gzip but uncompresses to something else than its diff_id
  const l1 = await layerTar({ 'a.txt': 'a' });
  const zlib = await import('node:zlib');
  const cfg = configFor([l1]);
  const gz = zlib.gzipSync(await layerTar({ 'b.txt': 'b' }));
  const tar = await buildTar([
    { name: `blobs/sha256/${hex(sha256(cfg))}`, content: cfg },
    { name: 'layer.tar.gz', content: gz },
    { name: 'manifest.json', content: JSON.stringify([{ Config: `blobs/sha256/${hex(sha256(cfg))}`, RepoTags: ['x:1'], Layers: ['layer.tar.gz'] }]) },
  ]);
  refused('gzip-diffid', tar, /diff_id/);
});

test('manifests and configs that are missing or not JSON', async () => {
  refused('missing-layer', await dockerArchive({ omitLayer: true }), /not in the archive/);
  refused('missing-config', await dockerArchive({ manifest: (m) => m.map((e) => ({ ...e, Config: 'gone.json' })) }), /not in the archive/);
  refused('manifest-not-json', await buildTar([{ name: 'manifest.json', content: '[{' }]), /not valid JSON/);
  const bad = Buffer.from('{this is not json');
  const tar = await buildTar([
    { name: 'cfg', content: bad },
    { name: 'manifest.json', content: JSON.stringify([{ Config: 'cfg', RepoTags: ['x:1'], Layers: [] }]) },
  ]);
  refused('config-not-json', tar, /not valid JSON/);
  refused('not-an-archive', Buffer.from('garbage'.repeat(200)), /malformed tar|neither/);
  refused('empty', Buffer.alloc(0), /empty/);
});
