/**
 * `build --platform linux/amd64,linux/arm64`: the Dockerfile built once per platform (the
 * arm64 RUN steps under qemu through binfmt_misc), the images recorded with an image index
 * under the tag. `run` takes this machine's image, `run --platform linux/arm64` the other;
 * inspect and images show the host's; save (oci-archive) and push carry the index, which a
 * fresh store pulls back per platform; rmi takes both. Bad --platform values and a platform
 * whose build fails leave the store as it was.
 * Prerequisites (scripts/setup.sh): test/fixtures/.cache/busybox-arm64-rootfs.tar, binfmt_misc
 * with an aarch64 handler, Debian's docker-registry; when one is missing the tests fail.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { FIXTURES, tempRoot, tsrun, tsrunOk, importBusybox, snapshotTree, type TempRoot } from '../helpers/cli.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const ARM_TAR = path.join(FIXTURES, 'busybox-arm64-rootfs.tar');
let tr: TempRoot;
let reg: TestRegistry | undefined;
const env = () => ({ DOCKER_CONFIG: path.join(tr.scratch, 'docker'), TSRUN_REGISTRIES_CONF: path.join(tr.scratch, 'none.json') });
const ok = (args: string[], root = tr.root) => tsrunOk(root, args, { env: env() });
const inspect = (image: string, root = tr.root) => JSON.parse(ok(['image', 'inspect', image], root))[0];
const storeIndex = (root = tr.root) => JSON.parse(fs.readFileSync(path.join(root, 'images', 'index.json'), 'utf8'));
const blob = (root: string, d: string) => JSON.parse(fs.readFileSync(path.join(root, 'content', 'blobs', 'sha256', d.slice(7)), 'utf8'));

function context(name: string, files: Record<string, string>): string {
  const dir = path.join(tr.scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), data);
  return dir;
}

// the base per platform through the global TARGETARCH, as multi-arch Dockerfiles pick one
const DOCKERFILE = [
  'ARG TARGETARCH',
  'FROM base-${TARGETARCH}',
  'ARG TARGETPLATFORM TARGETARCH TARGETOS BUILDPLATFORM',
  'RUN uname -m > /arch && echo "$TARGETPLATFORM $TARGETOS/$TARGETARCH $BUILDPLATFORM" > /args',
  'CMD ["cat", "/arch", "/args"]',
  '',
].join('\n');

let indexDigest: string;

before(() => {
  assert.ok(fs.existsSync(ARM_TAR), `${ARM_TAR} is missing: run scripts/setup.sh (it fetches busybox-static:arm64)`);
  tr = tempRoot('tsrun-multiplat-');
  fs.writeFileSync(path.join(tr.scratch, 'none.json'), '{}');
  importBusybox(tr.root, 'base-amd64:latest');
  ok(['import', '--platform', 'linux/arm64', ARM_TAR, 'base-arm64']);
});
after(() => {
  reg?.stop();
  tr?.cleanup();
});

describe('build --platform linux/amd64,linux/arm64', () => {
  test('one image per platform and an index under the tag; run picks the host, --platform the other', () => {
    const dir = context('multi', { Dockerfile: DOCKERFILE });
    const iid = path.join(tr.scratch, 'iid');
    const r = tsrun(tr.root, ['build', '--progress', 'plain', '--network', 'none', '--iidfile', iid, '--platform', 'linux/amd64,linux/arm64', '-t', 'multi:1', dir], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^#\d+ \[linux\/amd64 stage-0 2\/2\] RUN /m);
    assert.match(r.stderr, /^#\d+ \[linux\/arm64 stage-0 2\/2\] RUN /m);
    assert.match(r.stderr, /^#\d+ naming to docker\.io\/library\/multi:1 done$/m);
    indexDigest = fs.readFileSync(iid, 'utf8');
    assert.match(indexDigest, /^sha256:[a-f0-9]{64}$/);
    const list = storeIndex().lists['docker.io/library/multi:1'];
    assert.equal(list.digest, indexDigest);
    const index = blob(tr.root, indexDigest);
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(
      index.manifests.map((m: { platform: object; mediaType: string }) => [m.platform, m.mediaType]),
      [
        [{ os: 'linux', architecture: 'amd64' }, 'application/vnd.oci.image.manifest.v1+json'],
        [{ os: 'linux', architecture: 'arm64' }, 'application/vnd.oci.image.manifest.v1+json'],
      ],
    );
    assert.equal(ok(['run', '--rm', '--network', 'none', 'multi:1']), 'x86_64\nlinux/amd64 linux/amd64 linux/amd64\n');
    const arm = tsrun(tr.root, ['run', '--rm', '--network', 'none', '--platform', 'linux/arm64', 'multi:1'], { env: env() });
    assert.equal(arm.code, 0, arm.stderr);
    assert.equal(arm.stdout, 'aarch64\nlinux/arm64 linux/arm64 linux/amd64\n');
    assert.equal(arm.stderr, '', 'the arm64 image is in the store: no pull, no warning');
    // inspect and images: the host's image under the name, the other not a dangling <none>
    assert.equal(inspect('multi:1').Architecture, 'amd64');
    assert.equal(inspect('multi:1').IndexDigest, indexDigest);
    const rows = ok(['images', '--format', '{{.Repository}}:{{.Tag}}']).split('\n').filter(Boolean).sort();
    assert.deepEqual(rows, ['base-amd64:latest', 'base-arm64:latest', 'multi:1']);
    // image prune keeps the arm64 image (the index holds it)
    ok(['image', 'prune', '-f']);
    assert.equal(tsrun(tr.root, ['run', '--rm', '--network', 'none', '--platform', 'linux/arm64', 'multi:1', 'uname', '-m'], { env: env() }).stdout, 'aarch64\n');
    // the multi-platform image as a base of another multi-platform build (each platform its entry)
    const next = context('multi-next', { Dockerfile: 'FROM multi:1\nRUN uname -m >> /arch\n' });
    ok(['build', '-q', '--network', 'none', '--platform', 'linux/arm64,linux/amd64', '-t', 'multi:2', next]);
    assert.equal(ok(['run', '--rm', '--network', 'none', 'multi:2', 'cat', '/arch']), 'x86_64\nx86_64\n');
    assert.equal(ok(['run', '--rm', '--network', 'none', '--platform', 'linux/arm64', 'multi:2', 'cat', '/arch']), 'aarch64\naarch64\n');
    // a tag of the name carries its index
    ok(['tag', 'multi:1', 'multi:copy']);
    assert.equal(storeIndex().lists['docker.io/library/multi:copy'].digest, indexDigest);
  });

  test('save --format oci-archive carries the index and both images', () => {
    const out = path.join(tr.scratch, 'multi.tar');
    ok(['save', '--format', 'oci-archive', '-o', out, 'multi:1']);
    const x = path.join(tr.scratch, 'multi-x');
    fs.mkdirSync(x);
    assert.equal(spawnSync('tar', ['-xf', out, '-C', x]).status, 0);
    const top = JSON.parse(fs.readFileSync(path.join(x, 'index.json'), 'utf8'));
    assert.equal(top.manifests.length, 1);
    assert.equal(top.manifests[0].digest, indexDigest);
    assert.equal(top.manifests[0].mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(top.manifests[0].annotations['org.opencontainers.image.ref.name'], 'docker.io/library/multi:1');
    const index = JSON.parse(fs.readFileSync(path.join(x, 'blobs', 'sha256', indexDigest.slice(7)), 'utf8'));
    for (const m of index.manifests) {
      const man = JSON.parse(fs.readFileSync(path.join(x, 'blobs', 'sha256', m.digest.slice(7)), 'utf8'));
      for (const d of [man.config, ...man.layers]) assert.ok(fs.existsSync(path.join(x, 'blobs', 'sha256', d.digest.slice(7))), `${d.digest} in the archive`);
      assert.equal(JSON.parse(fs.readFileSync(path.join(x, 'blobs', 'sha256', man.config.digest.slice(7)), 'utf8')).architecture, m.platform.architecture);
    }
  });

  test('push sends both images and the index; a fresh store pulls each platform back', async () => {
    reg = await startRegistry(path.join(tr.scratch, 'registry'));
    const ref = `${reg.host}/multi:1`;
    ok(['tag', 'multi:1', ref]);
    const out = ok(['push', ref]);
    const m = /digest: (sha256:[a-f0-9]{64})/.exec(out);
    assert.ok(m, out);
    const res = await fetch(`http://${reg.host}/v2/multi/manifests/1`, { headers: { Accept: 'application/vnd.oci.image.index.v1+json' } });
    assert.equal(res.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(`sha256:${crypto.createHash('sha256').update(body).digest('hex')}`, m[1]);
    const pushed = JSON.parse(body.toString()) as { manifests: { platform: { architecture: string } }[] };
    assert.deepEqual(pushed.manifests.map((d) => d.platform.architecture), ['amd64', 'arm64']);
    assert.ok(storeIndex().lists[`${ref}`].repoDigests.includes(`${reg.host}/multi@${m[1]}`));
    assert.ok(inspect(ref).RepoDigests.includes(`${reg.host}/multi@${m[1]}`), 'inspect shows the index digest');
    const fresh = tempRoot('tsrun-multiplat-pull-');
    try {
      ok(['pull', '--platform', 'linux/arm64', ref], fresh.root);
      assert.equal(ok(['run', '--rm', '--network', 'none', ref], fresh.root), 'aarch64\nlinux/arm64 linux/arm64 linux/amd64\n');
      ok(['pull', ref], fresh.root);
      assert.equal(ok(['run', '--rm', '--network', 'none', ref], fresh.root), 'x86_64\nlinux/amd64 linux/amd64 linux/amd64\n');
    } finally {
      fresh.cleanup();
    }
    ok(['rmi', ref]);
  });

  test('rmi of the last name holding the index removes both images', () => {
    const before = Object.keys(storeIndex().images).length;
    const list = storeIndex().lists['docker.io/library/multi:1'];
    ok(['rmi', 'multi:copy']);
    assert.equal(Object.keys(storeIndex().images).length, before, 'multi:1 still holds them');
    ok(['rmi', 'multi:1']);
    const idx = storeIndex();
    for (const mm of list.manifests) assert.equal(idx.images[mm.id], undefined, `${mm.platform.architecture} image removed`);
    assert.equal(idx.lists['docker.io/library/multi:1'], undefined);
    assert.ok(!fs.existsSync(path.join(tr.root, 'content', 'blobs', 'sha256', list.digest.slice(7))), 'the index blob collected');
  });

  test('bad --platform values, a failing platform: one line, exit 1, the store as it was; a duplicate counts once', () => {
    const dir = context('multi-bad', { Dockerfile: DOCKERFILE });
    const images = () => JSON.stringify({ ...storeIndex(), images: Object.keys(storeIndex().images).sort() });
    const before = snapshotTree(tr.root);
    for (const [p, re] of [
      ['linux/amd64,linux/bogus', /^tsrun: --platform linux\/bogus: unknown architecture "bogus"/],
      ['linux/amd64,', /^tsrun: invalid --platform "linux\/amd64,": an empty platform/],
      ['linux/amd64,windows/amd64', /^tsrun: --platform windows\/amd64: tsrun builds linux images only/],
      ['linux/amd64,arm64', /^tsrun: invalid platform "arm64"/],
    ] as const) {
      const r = tsrun(tr.root, ['build', '--platform', p, '-t', 'bad:1', dir], { env: env() });
      assert.equal(r.code, 1, `${p}: ${r.stderr}`);
      const lines = r.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, re);
    }
    assert.deepEqual(snapshotTree(tr.root), before);
    // the arm64 build fails at its RUN: nothing recorded, not even the amd64 image that built
    const failing = context('multi-fail', { Dockerfile: DOCKERFILE.replace('RUN uname', 'RUN [ "$(uname -m)" = x86_64 ] && uname') });
    const was = images();
    const f = tsrun(tr.root, ['build', '--network', 'none', '--platform', 'linux/amd64,linux/arm64', '-t', 'bad:1', failing], { env: env() });
    assert.equal(f.code, 1, f.stderr);
    assert.equal(f.stderr.split('\n').filter((l) => l.startsWith('tsrun:')).length, 1, f.stderr);
    assert.match(f.stderr, /^tsrun: Dockerfile:4: RUN .* exit code: 1/m);
    assert.equal(images(), was);
    // docker's buildx dedupes: linux/amd64 twice (x86_64 is amd64) is one platform: one image, no index
    ok(['build', '-q', '--network', 'none', '--platform', 'linux/amd64,linux/x86_64', '-t', 'dup:1', dir]);
    assert.equal(storeIndex().lists?.['docker.io/library/dup:1'], undefined);
    assert.equal(ok(['run', '--rm', '--network', 'none', 'dup:1']), 'x86_64\nlinux/amd64 linux/amd64 linux/amd64\n');
  });
});
