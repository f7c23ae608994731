/** Archive readers (spool + interpret) against good and tampered fixtures, without the CLI. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { ContentStore } from '../../src/content/store.js';
import { spoolArchive, archiveLimits } from '../../src/archive/spool.js';
import { readArchiveImages } from '../../src/archive/images.js';
import { TsrunError } from '../../src/util/errors.js';
import { sha256 } from '../../src/oci/digest.js';
import { dockerArchive, ociArchive, layerTar, configFor } from './archivefixture.js';
import { buildTar } from './tarfixture.js';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-archive-'));
after(() => fs.rmSync(base, { recursive: true, force: true }));
let n = 0;
const store = () => new ContentStore(path.join(base, `r${n++}`));

async function read(buf: Buffer, limits = archiveLimits()) {
  const content = store();
  const a = await spoolArchive(content, Readable.from([buf]), limits);
  try {
    return { images: readArchiveImages(a), content };
  } finally {
    a.cleanup();
  }
}

async function refuses(buf: Buffer, code: string, re?: RegExp, limits = archiveLimits()) {
  const content = store();
  await assert.rejects(
    async () => {
      const a = await spoolArchive(content, Readable.from([buf]), limits);
      try {
        readArchiveImages(a);
      } finally {
        a.cleanup();
      }
    },
    (e: unknown) => e instanceof TsrunError && e.code === code && (!re || re.test(e.message)),
  );
  assert.deepEqual(fs.readdirSync(path.join(content.dir, 'ingest')), [], 'no temp files left');
}

test('docker-archive: config digest is the ID, tags normalised, layer digest = diff_id', async () => {
  const layer = await layerTar();
  const { images } = await read(await dockerArchive({ layers: [layer], tags: ['fixture:1'] }));
  assert.equal(images.length, 1);
  assert.deepEqual(images[0]!.tags, ['docker.io/library/fixture:1']);
  assert.equal(images[0]!.manifest.config.digest, sha256(configFor([layer])));
  assert.equal(images[0]!.manifest.layers[0]!.digest, sha256(layer));
});

test('docker-archive: gzip-compressed archive and symlinked layer (podman style)', async () => {
  const layer = await layerTar();
  const config = configFor([layer]);
  const h = (d: string) => d.slice(7);
  const tar = await buildTar([
    { name: `${h(sha256(layer))}.tar`, content: layer },
    { name: `${h(sha256(config))}.json`, content: config },
    { name: 'abc/layer.tar', type: 'symlink', linkname: `../${h(sha256(layer))}.tar` },
    { name: 'manifest.json', content: JSON.stringify([{ Config: `${h(sha256(config))}.json`, RepoTags: ['localhost/x:1'], Layers: ['abc/layer.tar'] }]) },
  ]);
  const { images } = await read(zlib.gzipSync(tar));
  assert.deepEqual(images[0]!.tags, ['localhost/x:1']);
});

test('docker-archive in moby 25+ combined form (manifest.json naming blobs/sha256/*, beside an OCI layout)', async () => {
  const layer = await layerTar();
  const config = configFor([layer]);
  const h = (d: string) => d.slice(7);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
  });
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: sha256(manifest),
        size: manifest.length,
        annotations: { 'io.containerd.image.name': 'docker.io/library/moby:25', 'org.opencontainers.image.ref.name': '25' },
      },
    ],
  });
  const tar = await buildTar([
    { name: 'blobs/', type: 'dir' },
    { name: 'blobs/sha256/', type: 'dir' },
    { name: `blobs/sha256/${h(sha256(layer))}`, content: layer },
    { name: `blobs/sha256/${h(sha256(config))}`, content: config },
    { name: `blobs/sha256/${h(sha256(manifest))}`, content: manifest },
    { name: 'index.json', content: index },
    { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
    {
      name: 'manifest.json',
      content: JSON.stringify([{ Config: `blobs/sha256/${h(sha256(config))}`, RepoTags: ['moby:25'], Layers: [`blobs/sha256/${h(sha256(layer))}`] }]),
    },
  ]);
  const { images } = await read(tar);
  assert.equal(images.length, 1);
  assert.deepEqual(images[0]!.tags, ['docker.io/library/moby:25']);
  assert.equal(images[0]!.manifest.config.digest, sha256(config));
  assert.equal(images[0]!.manifest.layers[0]!.digest, sha256(layer));
});

test('oci-archive: full ref.name becomes a tag; digests checked', async () => {
  const { images } = await read(await ociArchive({ name: 'localhost/fixture:oci' }));
  assert.deepEqual(images[0]!.tags, ['localhost/fixture:oci']);
  const bare = await read(await ociArchive({ name: 'latest' }));
  assert.deepEqual(bare.images[0]!.tags, []);
});

test('tampered archives are refused', async () => {
  await refuses(await dockerArchive({ tamperLayer: true }), 'DIGEST_MISMATCH');
  await refuses(await dockerArchive({ omitLayer: true }), 'INVALID_ARCHIVE', /not in the archive/);
  await refuses(await dockerArchive({ config: Buffer.from('{not json') }), 'DIGEST_MISMATCH'); // its name says another digest
  await refuses(await dockerArchive({ manifest: (m) => m.map((e) => ({ ...e, Config: 'nope.json' })) }), 'INVALID_ARCHIVE', /not in the archive/);
  await refuses(await dockerArchive({ manifest: () => ({}) }), 'INVALID_ARCHIVE');
  await refuses(await dockerArchive({ manifest: (m) => m.map((e) => ({ ...e, RepoTags: ['Bad:Tag'] })) }), 'INVALID_ARCHIVE', /invalid tag/);
  await refuses(await ociArchive({ layerDesc: (d) => (d.size += 1) }), 'DIGEST_MISMATCH');
  await refuses(await ociArchive({ layerDesc: (d) => (d.digest = sha256('other')) }), 'INVALID_ARCHIVE', /not in the archive/);
  await refuses(await dockerArchive({ extra: [{ name: '../escape', content: 'x' }] }), 'UNSAFE_PATH');
  await refuses(await dockerArchive({ extra: [{ name: 'manifest.json', content: '[]' }] }), 'INVALID_ARCHIVE', /twice/);
  await refuses(await dockerArchive({ extra: [{ name: 'evil', type: 'symlink', linkname: '../../etc/passwd' }] }), 'UNSAFE_PATH');
  await refuses(Buffer.alloc(0), 'INVALID_ARCHIVE', /empty/);
  await refuses(Buffer.from('this is not a tar archive at all'.repeat(40)), 'INVALID_ARCHIVE');
  await refuses(await dockerArchive(), 'TOO_LARGE', /members/, { maxMembers: 1, maxMemberBytes: 1 << 30 });
  await refuses(await dockerArchive(), 'TOO_LARGE', /bytes/, { maxMembers: 100, maxMemberBytes: 100 });
});
