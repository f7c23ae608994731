/**
 * Hostile and unusual layers through every way in: `import`, `load` of a
 * docker archive, `load` of a gzipped OCI archive with gzipped layers, and
 * `pull` from a local registry; then `run`. The cases are taken as data from
 * the breakout tables of containerd (archive TestBreakouts), moby/go-archive
 * (TestUntar*), umoci (tar_extract tests), the node-tar, tar-fs and Go
 * archive/tar advisories and the OCI whiteout rules; the code is tsrun's own.
 *
 * Each case is either refused with one "tsrun: …" line, leaving the store as
 * it was, or applied as containerd applies it (checked from inside a
 * container). Nothing may be written outside the store, and at the end the
 * store must still rmi, prune and pull. README's "Hostile layers" table lists
 * the classes and results.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { tempRoot, tsrun, tsrunOk, importBusybox, busyboxTar, snapshotTree } from '../helpers/cli.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { buildTar, rawEntry, paxHeader, gnuLong, octalField, TAR_END, type FixtureEntry } from '../unit/tarfixture.js';
import { dockerArchive, hex } from '../unit/archivefixture.js';
import { sha256 } from '../../src/oci/digest.js';

const t = tempRoot('tsrun-hostile-layers-');
const outside = path.join(t.scratch, 'outside');
let reg: TestRegistry;
let busy: Buffer;
let busyGz: Buffer;
const env = () => ({ DOCKER_CONFIG: path.join(t.scratch, 'docker'), TSRUN_REGISTRIES_CONF: path.join(t.scratch, 'none.json') });

before(async () => {
  fs.mkdirSync(outside);
  busy = fs.readFileSync(busyboxTar());
  busyGz = zlib.gzipSync(busy);
  importBusybox(t.root, 'busybox:latest');
  reg = await startRegistry(path.join(t.scratch, 'reg'));
  // an image whose gzipped busybox layer every pulled case shares: its blob stays in the store
  tsrunOk(t.root, ['pull', await push(await buildTar([{ name: 'base', content: 'b' }]), 'base')], { env: env() });
});
after(() => {
  reg?.stop();
  t.cleanup();
});

/** The store's files, minus per-layer lock files (they hold no data and appear on first use). */
const snapshot = () => snapshotTree(t.root).filter((l) => !l.startsWith('layers/.locks/'));

function configFor(diffIds: string[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: { Cmd: ['sh'], Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'hostile' })),
    }),
  );
}

/** busybox + the layer as an OCI manifest with gzipped layers: the blobs and the manifest. */
function ociImage(layer: Buffer): { blobs: Buffer[]; manifest: Buffer } {
  const gz = [busyGz, zlib.gzipSync(layer)];
  const config = configFor([sha256(busy), sha256(layer)]);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: gz.map((g) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(g), size: g.length })),
    }),
  );
  return { blobs: [config, ...gz], manifest };
}

async function ociArchiveGz(layer: Buffer, ref: string): Promise<Buffer> {
  const { blobs, manifest } = ociImage(layer);
  const index = {
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': ref } }],
  };
  const tar = await buildTar([
    { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', content: JSON.stringify(index) },
    ...[manifest, ...blobs].map((b) => ({ name: `blobs/sha256/${hex(sha256(b))}`, content: b })),
  ]);
  return zlib.gzipSync(tar);
}

/** Push busybox + the layer to the test registry with the distribution API (monolithic uploads). */
async function push(layer: Buffer, tag: string): Promise<string> {
  const { blobs, manifest } = ociImage(layer);
  const base = `http://${reg.host}/v2/hostile`;
  for (const b of blobs) {
    if ((await fetch(`${base}/blobs/${sha256(b)}`, { method: 'HEAD' })).status === 200) continue; // busybox, once
    const start = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202, `upload start: ${start.status}`);
    const loc = new URL(start.headers.get('location')!, `http://${reg.host}`);
    loc.searchParams.set('digest', sha256(b));
    const put = await fetch(loc, { method: 'PUT', body: new Uint8Array(b), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 201, `blob upload: ${put.status} ${await put.text()}`);
  }
  const m = await fetch(`${base}/manifests/${tag}`, { method: 'PUT', body: new Uint8Array(manifest), headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(m.status, 201, `manifest: ${m.status} ${await m.text()}`);
  return `${reg.host}/hostile:${tag}`;
}

type Channel = 'import' | 'load-docker' | 'load-oci-gz' | 'pull';
const CHANNELS: Channel[] = ['import', 'load-docker', 'load-oci-gz', 'pull'];

interface Case {
  /** Where the case comes from, for the README table. */
  source: string;
  layer: () => Promise<Buffer>;
  /** Refused: the message must match. */
  refused?: RegExp;
  /** Applied: a shell command run in the image (busybox below the layer) and its expected output. */
  run?: [string, string];
  /** Import has no layers below: a case about them is refused there. */
  importRefused?: RegExp;
  env?: Record<string, string>;
}

const tar = (entries: FixtureEntry[]) => () => buildTar(entries);
const raw = (...parts: Buffer[]) => async () => Buffer.concat([...parts, TAR_END]);
const chain = (n: number) => Array.from({ length: n }, () => 'a').join('/');

const cases: Record<string, Case> = {
  'dotdot escape': { source: 'containerd TestBreakouts, moby TestUntarInvalidFilenames', layer: tar([{ name: '../../../tmp/tsrun-pwned', content: 'x' }]), refused: /escapes the root/ },
  'absolute dotdot escape': { source: 'moby TestUntarInvalidFilenames', layer: tar([{ name: '/../../tsrun-pwned', content: 'x' }]), refused: /escapes the root/ },
  'inner dotdot escape': { source: 'node-tar advisories', layer: tar([{ name: 'a/../../tsrun-pwned', content: 'x' }]), refused: /escapes the root/ },
  'symlink parent to /': { source: 'containerd TestBreakouts, moby TestUntarInvalidSymlink', layer: tar([{ name: 'l', type: 'symlink', linkname: '/' }, { name: 'l/tmp/tsrun-pwned', content: 'x' }]), refused: /symlink/ },
  'symlink parent relative escape': { source: 'moby TestUntarInvalidSymlink, tar-fs CVE-2024-12905', layer: () => buildTar([{ name: 'l', type: 'symlink', linkname: '../'.repeat(30) + outside.slice(1) }, { name: 'l/pwned', content: 'x' }]), refused: /symlink/ },
  'symlink then same-name dir (node-tar CVE-2021-32803)': { source: 'node-tar CVE-2021-32803', layer: () => buildTar([{ name: 'a', type: 'symlink', linkname: outside }, { name: 'a/', type: 'dir' }, { name: 'a/pwned', content: 'x' }]), refused: /duplicate|symlink/ },
  'symlink loop parent': { source: 'umoci tar_extract tests', layer: tar([{ name: 'a', type: 'symlink', linkname: 'b' }, { name: 'b', type: 'symlink', linkname: 'a' }, { name: 'a/x', content: 'x' }]), refused: /symlink/ },
  'dir replaced by a symlink (node-tar CVE-2021-37712)': { source: 'node-tar CVE-2021-37712', layer: () => buildTar([{ name: 'a/b', content: 'x' }, { name: 'a', type: 'symlink', linkname: outside }, { name: 'a/c', content: 'x' }]), refused: /replaces a directory/ },
  'hardlink escape': { source: 'containerd TestBreakouts, Go archive/tar issue 9412', layer: tar([{ name: 'h', type: 'link', linkname: '../../../etc/passwd' }]), refused: /outside/ },
  'hardlink to a missing file': { source: 'moby TestUntarHardlinkToSymlink', layer: tar([{ name: 'h', type: 'link', linkname: '/nonexistent/target' }]), refused: /neither an earlier file/ },
  'hardlink through a symlink (tar-fs CVE-2024-12905)': { source: 'tar-fs CVE-2024-12905', layer: tar([{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'h', type: 'link', linkname: 'l/passwd' }]), refused: /hardlink/ },
  'whiteout of ..': { source: 'OCI whiteouts, containerd TestBreakouts', layer: tar([{ name: 'a/.wh...' }]), refused: /names "\.\."/ },
  'bare whiteout': { source: 'OCI whiteouts', layer: tar([{ name: 'etc/.wh.' }]), refused: /bare whiteout/ },
  'entry under a whiteout name': { source: 'OCI whiteouts', layer: tar([{ name: '.wh.x/y', content: 'x' }]), refused: /under a whiteout/ },
  'whiteout through a symlink parent': { source: 'containerd TestBreakouts (whiteout symlink)', layer: tar([{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'l/.wh.passwd' }]), refused: /symlink/ },
  'whiteout and entry of one name': { source: 'OCI whiteouts', layer: tar([{ name: '.wh.a' }, { name: 'a', content: 'x' }]), refused: /duplicate/ },
  'file listed twice': { source: 'moby TestUntarDuplicate (docker: last wins; tsrun refuses: a scanner sees the first)', layer: tar([{ name: 'a', content: '1' }, { name: 'a', content: '2' }]), refused: /duplicate/ },
  'pax header over 1 MiB (Go CVE-2022-2879)': { source: 'Go CVE-2022-2879', layer: raw(paxHeader({ comment: 'x'.repeat((1 << 20) + 10) }), rawEntry({ name: 'f', typeflag: '0' }, 'x')), refused: /too large/ },
  'unknown type flag': { source: 'Go archive/tar (returns it; docker refuses)', layer: raw(rawEntry({ name: 'vol', typeflag: 'V' })), refused: /unsupported entry type/ },
  'pax path with a NUL': { source: 'Go archive/tar validPAXRecord', layer: raw(paxHeader({ path: 'a\0b' }), rawEntry({ name: 'f', typeflag: '0' }, 'x')), refused: /invalid pax record/ },
  'sparse map that does not match the data': { source: 'Go archive/tar errMissData', layer: raw(paxHeader({ 'GNU.sparse.major': '0', 'GNU.sparse.minor': '1', 'GNU.sparse.size': '1000000000', 'GNU.sparse.numblocks': '1', 'GNU.sparse.map': '0,999999999' }), rawEntry({ name: 'f', typeflag: '0' }, 'x')), refused: /sparse/ },
  'truncated layer': { source: 'moby TestUntarUstarGnuConflict-like truncation', layer: async () => (await buildTar([{ name: 'f', content: Buffer.alloc(5000) }])).subarray(0, 2048), refused: /malformed tar|unexpected end/ },
  '1,025 levels deep': { source: 'node-tar maxDepth', layer: tar([{ name: chain(1024) + '/f', content: 'x' }]), refused: /nested 1025 directories deep/ },
  '30,000-level name': { source: 'this issue (a 60 KB RangeError before)', layer: tar([{ name: chain(30_000), content: 'x' }]), refused: /^tsrun: .{0,400}\n$/s },
  'a 100 KB name that climbs out': { source: 'this issue (attacker input echoed in errors)', layer: tar([{ name: 'a/'.repeat(20_000) + '../'.repeat(20_001) + 'x', content: 'x' }]), refused: /^tsrun: [^\n]{0,100}entry [^\n]{0,200} escapes the root[^\n]*\n$/ },
  'tar bomb by entry count': { source: 'node-tar/tar-fs advisories', layer: tar(Array.from({ length: 30 }, (_, i) => ({ name: `f${i}`, content: 'x' }))), refused: /more than 10 entries/, env: { TSRUN_MAX_LAYER_ENTRIES: '10' } },

  'opaque directory': { source: 'OCI whiteouts (opaque)', layer: tar([{ name: 'home/', mode: 0o755 }, { name: 'home/.wh..wh..opq' }, { name: 'home/new', content: 'n' }]), run: ['ls /home', 'new'] },
  'whiteout of a lower file': { source: 'OCI whiteouts', layer: tar([{ name: 'bin/', mode: 0o755 }, { name: 'bin/.wh.arch' }]), run: ['test -e /bin/arch || echo gone', 'gone'] },
  'Latin-1 names': { source: 'Go archive/tar (names are bytes)', layer: raw(rawEntry({ name: Buffer.from('caf\xe9', 'latin1'), typeflag: '0' }, '1'), rawEntry({ name: Buffer.from('caf\xe8', 'latin1'), typeflag: '0' }, '2')), run: ['ls / | grep -c caf', '2'] },
  'directory listed twice': { source: 'containerd applyNaive (dir over dir keeps it)', layer: tar([{ name: 'd/', mode: 0o700 }, { name: 'd/f', content: 'x' }, { name: 'd/', mode: 0o751 }]), run: ['stat -c %a /d', '751'] },
  'hardlink to a symlink': { source: 'moby TestUntarHardlinkToSymlink', layer: tar([{ name: 's', type: 'symlink', linkname: '/etc/passwd' }, { name: 'h', type: 'link', linkname: 's' }]), run: ['readlink /h', '/etc/passwd'] },
  'hardlink to a file of a lower layer': { source: 'containerd overlay apply (copy-up)', layer: tar([{ name: 'bb', type: 'link', linkname: 'bin/busybox' }]), run: ['cmp /bb /bin/busybox && stat -c %h /bin/busybox', '2'], importRefused: /neither an earlier file/ },
  'AUFS metadata and plnk hardlinks': { source: 'moby UnpackLayer (.wh..wh.plnk)', layer: tar([{ name: '.wh..wh.aufs', content: '' }, { name: '.wh..wh.plnk/', type: 'dir' }, { name: '.wh..wh.plnk/1.2', content: 'plnk' }, { name: 'linked', type: 'link', linkname: '.wh..wh.plnk/1.2' }]), run: ['cat /linked; ls -A / | grep -c wh || true', 'plnk0'] },
  'pax sparse file': { source: 'GNU tar --sparse --format=posix', layer: raw(paxHeader({ 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'sparse', 'GNU.sparse.realsize': '1048576' }), rawEntry({ name: 'GNUSparseFile.0/sparse', typeflag: '0' }, Buffer.concat([Buffer.from('1\n1048574\n2\n'.padEnd(512, '\0')), Buffer.from('hi')]))), run: ['wc -c < /sparse; tail -c 2 /sparse', '1048576\nhi'] },
  'old GNU sparse file': { source: 'GNU tar --sparse (gnu format)', layer: raw(rawEntry({ name: 'osparse', typeflag: 'S', format: 'gnu', fill: (b) => (b.write(octalField(100, 12), 386, 'latin1'), b.write(octalField(2, 12), 398, 'latin1'), b.write(octalField(4096, 12), 483, 'latin1')) }, 'ok')), run: ['wc -c < /osparse', '4096'] },
  'long name then a global header': { source: 'Go archive/tar (a g header drops a pending long name)', layer: raw(gnuLong('L', 'evil-name'), paxHeader({ comment: 'g' }, 'g'), rawEntry({ name: 'go-name', typeflag: '0' }, 'x')), run: ['ls / | grep -e evil -e go-name', 'go-name'] },
  '1,000 levels deep': { source: 'this issue (1,800 levels wedged the store)', layer: tar([{ name: chain(1000) + '/f', content: 'deep' }]), run: ['find /a -type f | wc -l', '1'] },
  'absolute symlink target': { source: 'containerd TestBreakouts (symlinks are not followed on apply)', layer: tar([{ name: 'x', type: 'symlink', linkname: '/etc/shadow' }]), run: ['readlink /x', '/etc/shadow'] },
  'device node': { source: 'moby TestUntarDevices', layer: tar([{ name: 'mynull', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 }]), run: ['stat -c %t,%T /mynull', '1,3'] },
  'setuid file': { source: 'umoci tar_extract tests', layer: tar([{ name: 'suid', content: 'x', mode: 0o4755 }]), run: ['stat -c %a /suid', '4755'] },
  'backslash in a name': { source: 'node-tar CVE-2021-37701 (Windows paths)', layer: tar([{ name: 'a\\b', content: 'x' }]), run: ['ls / | grep -c "a.b"', '1'] },
};

let n = 0;
async function through(name: string, c: Case, channel: Channel): Promise<{ ok: boolean; stderr: string; ref: string }> {
  const layer = await c.layer();
  const id = `c${++n}`;
  const file = path.join(t.scratch, `${id}.tar`);
  let args: string[];
  let ref: string;
  if (channel === 'import') {
    fs.writeFileSync(file, layer);
    ref = `hostile/${id}:imp`;
    args = ['import', file, ref];
  } else if (channel === 'load-docker') {
    fs.writeFileSync(file, await dockerArchive({ layers: [busy, layer], tags: [`hostile/${id}:docker`] }));
    ref = `hostile/${id}:docker`;
    args = ['load', '-i', file];
  } else if (channel === 'load-oci-gz') {
    ref = `localhost/hostile/${id}:oci`;
    fs.writeFileSync(file, await ociArchiveGz(layer, ref));
    args = ['load', '-i', file];
  } else {
    ref = await push(layer, id);
    args = ['pull', ref];
  }
  const r = tsrun(t.root, args, { env: { ...env(), ...(c.env ?? {}) } });
  fs.rmSync(file, { force: true });
  void name;
  return { ok: r.code === 0, stderr: r.stderr, ref };
}

for (const [name, c] of Object.entries(cases)) {
  test(`hostile layer: ${name}`, async () => {
    for (const channel of CHANNELS) {
      const refused = channel === 'import' && c.importRefused ? c.importRefused : c.refused;
      const before = refused ? snapshot() : [];
      const r = await through(name, c, channel);
      assert.deepEqual(fs.readdirSync(outside), [], `${name} (${channel}): nothing written outside`);
      assert.equal(fs.existsSync('/tmp/tsrun-pwned') || fs.existsSync('/tsrun-pwned'), false, `${name} (${channel}): nothing written on the host`);
      if (refused) {
        assert.equal(r.ok, false, `${name} (${channel}): refused`);
        assert.match(r.stderr, /^tsrun: [^\n]+\n$/, `${name} (${channel}): one line: ${r.stderr.slice(0, 300)}`);
        assert.match(r.stderr, refused, `${name} (${channel})`);
        assert.deepEqual(snapshot(), before, `${name} (${channel}): the store did not change`);
        continue;
      }
      assert.ok(r.ok, `${name} (${channel}) applied: ${r.stderr}`);
      if (c.run && channel === 'pull') {
        const out = tsrun(t.root, ['run', '--rm', r.ref, 'sh', '-c', c.run[0]]);
        assert.equal(out.code, 0, `${name} (${channel}) run: ${out.stderr}`);
        assert.equal(out.stdout.trim(), c.run[1], `${name} (${channel}) in the container`);
      }
      tsrunOk(t.root, ['rmi', r.ref]);
    }
  });
}

test('after every hostile layer the store still removes, prunes and pulls, and holds nothing extra', async () => {
  tsrunOk(t.root, ['image', 'prune', '-a', '-f']);
  const layersDir = path.join(t.root, 'layers');
  assert.deepEqual(fs.readdirSync(path.join(layersDir, '.tmp')), [], 'no trash left');
  const ref = await push(await buildTar([{ name: 'good', content: 'g' }]), 'final');
  tsrunOk(t.root, ['pull', ref], { env: env() });
  assert.equal(tsrunOk(t.root, ['run', '--rm', ref, 'cat', '/good']), 'g');
  tsrunOk(t.root, ['rmi', ref]);
  tsrunOk(t.root, ['image', 'prune', '-a', '-f']);
  const layers = fs.readdirSync(layersDir).filter((d) => /^[a-f0-9]{64}$/.test(d));
  assert.deepEqual(layers, [], 'every layer went with its image');
});
