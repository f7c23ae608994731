/**
 * pull from a real registry (docker-registry 2.8) filled by skopeo: docker
 * schema2, OCI, zstd layers, a two-platform index, by digest, -q, -a,
 * layers not fetched twice, and a docker.io mirror used by pull and run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO, tempRoot, tsrun, tsrunOk, type TempRoot } from '../helpers/cli.js';
import { buildLayout, skopeoPush, startRegistry, type LayoutImage, type TestRegistry } from '../helpers/registry.js';

const env = (t: TempRoot) => ({ DOCKER_CONFIG: path.join(t.scratch, 'docker'), TSRUN_REGISTRIES_CONF: path.join(t.scratch, 'none.json') });

function images(root: string): { images: Record<string, { repoDigests: string[]; mediaType: string }>; tags: Record<string, string> } {
  return JSON.parse(fs.readFileSync(path.join(root, 'images', 'index.json'), 'utf8'));
}

function inspect(t: TempRoot, ref: string): { Id: string; RepoDigests: string[]; RepoTags: string[]; Architecture: string } {
  const out = JSON.parse(tsrunOk(t.root, ['inspect', '--type', 'image', ref], { env: env(t) }));
  return Array.isArray(out) ? out[0] : out;
}

describe('registry pull', () => {
  let base: TempRoot;
  let reg: TestRegistry;
  let gz: LayoutImage;
  let zst: LayoutImage;
  let multi: LayoutImage;

  before(async () => {
    base = tempRoot('tsrun-regpull-');
    reg = await startRegistry(path.join(base.scratch, 'reg'));
    gz = buildLayout(path.join(base.scratch, 'gz'));
    zst = buildLayout(path.join(base.scratch, 'zst'), { compression: 'zstd' });
    multi = buildLayout(path.join(base.scratch, 'multi'), { arches: ['amd64', 'arm64'] });
    skopeoPush(path.join(base.scratch, 'gz'), 'latest', `${reg.host}/busybox:v2s2`, { format: 'v2s2' });
    skopeoPush(path.join(base.scratch, 'gz'), 'latest', `${reg.host}/busybox:oci`, { format: 'oci' });
    skopeoPush(path.join(base.scratch, 'zst'), 'latest', `${reg.host}/busybox:zstd`, { format: 'oci' });
    skopeoPush(path.join(base.scratch, 'multi'), 'latest', `${reg.host}/multi:1`, { multiArch: true });
    skopeoPush(path.join(base.scratch, 'gz'), 'latest', `${reg.host}/library/busybox:latest`, { format: 'v2s2' });
  });
  after(() => {
    reg?.stop();
    base?.cleanup();
  });

  it('pulls a docker schema2 image and prints docker-style result lines', async () => {
    const t = tempRoot();
    try {
      const out = tsrunOk(t.root, ['pull', `${reg.host}/busybox:v2s2`], { env: env(t) });
      const lines = out.trim().split('\n');
      assert.match(lines[0]!, /^Digest: sha256:[a-f0-9]{64}$/);
      assert.equal(lines[1], `Status: Downloaded newer image for ${reg.host}/busybox:v2s2`);
      assert.equal(lines[2], `${reg.host}/busybox:v2s2`);
      const idx = images(t.root);
      const id = idx.tags[`${reg.host}/busybox:v2s2`]!;
      assert.equal(id, gz.configs.amd64);
      assert.equal(idx.images[id]!.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
      const digest = lines[0]!.slice('Digest: '.length);
      assert.deepEqual(inspect(t, `${reg.host}/busybox:v2s2`).RepoDigests, [`${reg.host}/busybox@${digest}`]);
      // unpacked layer is there
      assert.ok(fs.readdirSync(path.join(t.root, 'layers')).some((d) => fs.existsSync(path.join(t.root, 'layers', d, 'diff', 'bin', 'busybox'))));
      // a second pull is up to date and fetches no layer blob again
      // counted in the log once every request answered so far is in it (logSynced)
      const layerGets = async () => (await reg.logSynced()).split('\n').filter((l) => l.includes(`GET /v2/busybox/blobs/`) && !l.includes(gz.configs.amd64)).length;
      const before = await layerGets();
      const again = tsrunOk(t.root, ['pull', `${reg.host}/busybox:v2s2`], { env: env(t) });
      assert.match(again, /Status: Image is up to date/);
      // same layer, other tag: the layer blob is not fetched either
      tsrunOk(t.root, ['pull', `${reg.host}/busybox:oci`], { env: env(t) });
      assert.equal(await layerGets(), before);
    } finally {
      t.cleanup();
    }
  });

  it('on a terminal, shows one line per layer with its state; -q prints only the name', () => {
    const t = tempRoot();
    try {
      // script(1) gives tsrun a pty for stdout, as a user's terminal would
      const cmd = `${process.execPath} ${path.join(REPO, 'bin', 'tsrun')} --root ${t.root} pull ${reg.host}/busybox:oci`;
      const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, ...env(t) }, input: '' });
      assert.equal(r.status, 0, r.stderr?.toString());
      const screen = r.stdout.toString();
      assert.match(screen, new RegExp(`${gz.layerDigest.slice(7, 19)}: (Downloading|Pull complete)`));
      assert.match(screen, /Pull complete/);
      assert.match(screen, /Status: Downloaded newer image/);
      // once present, the layer is not fetched again and says so
      const again = spawnSync('script', ['-qec', cmd.replace(':oci', ':v2s2'), '/dev/null'], { env: { ...process.env, ...env(t) }, input: '' });
      assert.match(again.stdout.toString(), /Already exists/);
      assert.equal(tsrunOk(t.root, ['pull', '-q', `${reg.host}/busybox:zstd`], { env: env(t) }).trim(), `${reg.host}/busybox:zstd`);
    } finally {
      t.cleanup();
    }
  });

  it('pulls OCI and zstd-compressed images', () => {
    const t = tempRoot();
    try {
      tsrunOk(t.root, ['pull', `${reg.host}/busybox:oci`], { env: env(t) });
      const out = tsrunOk(t.root, ['pull', '-q', `${reg.host}/busybox:zstd`], { env: env(t) });
      assert.equal(out, `${reg.host}/busybox:zstd\n`);
      const idx = images(t.root);
      assert.equal(idx.tags[`${reg.host}/busybox:oci`], gz.configs.amd64);
      assert.equal(idx.tags[`${reg.host}/busybox:zstd`], zst.configs.amd64);
      assert.equal(idx.images[gz.configs.amd64!]!.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    } finally {
      t.cleanup();
    }
  });

  it('picks the host platform from an index, and another with --platform', () => {
    const t = tempRoot();
    try {
      const out = tsrunOk(t.root, ['pull', `${reg.host}/multi:1`], { env: env(t) });
      assert.match(out, new RegExp(`Digest: ${multi.digest}`));
      assert.equal(images(t.root).tags[`${reg.host}/multi:1`], multi.configs.amd64);
      assert.deepEqual(inspect(t, `${reg.host}/multi:1`).RepoDigests, [`${reg.host}/multi@${multi.digest}`]);
      tsrunOk(t.root, ['pull', '--platform', 'linux/arm64', `${reg.host}/multi:1`], { env: env(t) });
      assert.equal(images(t.root).tags[`${reg.host}/multi:1`], multi.configs.arm64);
      const bad = tsrun(t.root, ['pull', '--platform', 'linux/s390x', `${reg.host}/multi:1`], { env: env(t) });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /^tsrun: .*no image for platform linux\/s390x/);
    } finally {
      t.cleanup();
    }
  });

  it('pulls by digest and verifies it; the image is found by name@digest', () => {
    const t = tempRoot();
    try {
      const ref = `${reg.host}/multi@${multi.digest}`;
      const out = tsrunOk(t.root, ['pull', ref], { env: env(t) });
      assert.match(out, new RegExp(`${ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`));
      assert.deepEqual(images(t.root).tags, {}, 'a digest pull makes no tag');
      assert.equal(inspect(t, ref).Id, multi.configs.amd64);
      // the arm64 child manifest by its own digest
      tsrunOk(t.root, ['pull', `${reg.host}/multi@${multi.manifests.arm64}`], { env: env(t) });
      assert.equal(inspect(t, `${reg.host}/multi@${multi.manifests.arm64}`).Id, multi.configs.arm64);
    } finally {
      t.cleanup();
    }
  });

  it('pull -a pulls every tag', () => {
    const t = tempRoot();
    try {
      const out = tsrunOk(t.root, ['pull', '-a', '-q', `${reg.host}/busybox`], { env: env(t) });
      assert.deepEqual(out.trim().split('\n'), ['oci', 'v2s2', 'zstd'].map((x) => `${reg.host}/busybox:${x}`));
    } finally {
      t.cleanup();
    }
  });

  it('pulls docker.io images through a configured mirror (pull and run)', () => {
    const t = tempRoot();
    try {
      const conf = path.join(t.scratch, 'registries.json');
      fs.writeFileSync(conf, JSON.stringify({ mirrors: { 'docker.io': [`http://${reg.host}`] } }));
      const e = { ...env(t), TSRUN_REGISTRIES_CONF: conf };
      const out = tsrunOk(t.root, ['pull', 'busybox'], { env: e });
      assert.match(out, /Status: Downloaded newer image for busybox:latest\ndocker\.io\/library\/busybox:latest\n$/);
      assert.equal(images(t.root).tags['docker.io/library/busybox:latest'], gz.configs.amd64);
      // run pulls what it lacks (when the runtime's `run` command is there)
      const t2 = tempRoot();
      try {
        if (fs.existsSync(path.join(REPO, 'dist', 'src', 'cli', 'commands', 'run.js'))) {
          const r = tsrun(t2.root, ['run', 'busybox', 'echo', 'hi'], { env: e });
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout, 'hi\n');
          assert.match(r.stderr, /Unable to find image 'busybox' locally/);
        }
      } finally {
        t2.cleanup();
      }
    } finally {
      t.cleanup();
    }
  });
});
