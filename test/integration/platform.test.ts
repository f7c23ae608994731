/**
 * Another architecture's images on this amd64 machine: a real arm64 busybox (Debian's
 * busybox-static:arm64, scripts/make-busybox-rootfs-arm64.sh) imported with --platform,
 * run under qemu-user-static through binfmt_misc, built from with `build --platform
 * linux/arm64` (RUN steps emulated, the image's config arm64), pulled from a two-platform
 * index with `pull --platform` and `run --platform`; and the refusals: a store image of
 * the wrong platform, a platform nothing here can run, bad values.
 * The prerequisites (the fixture, binfmt_misc, qemu's aarch64 handler) are made by
 * scripts/setup.sh; when one is missing the tests fail and say so.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, tempRoot, tsrun, tsrunOk, importBusybox, snapshotTree, type TempRoot } from '../helpers/cli.js';
import { startRegistry, buildLayout, skopeoPush, type TestRegistry } from '../helpers/registry.js';

const ARM_TAR = path.join(FIXTURES, 'busybox-arm64-rootfs.tar');
let tr: TempRoot;
let reg: TestRegistry | undefined;
const env = () => ({ DOCKER_CONFIG: path.join(tr.scratch, 'docker'), TSRUN_REGISTRIES_CONF: path.join(tr.scratch, 'none.json') });
const ok = (args: string[]) => tsrunOk(tr.root, args, { env: env() });
const inspect = (image: string) => JSON.parse(ok(['image', 'inspect', image]))[0];

function context(name: string, files: Record<string, string>): string {
  const dir = path.join(tr.scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), data);
  return dir;
}

before(async () => {
  assert.ok(fs.existsSync(ARM_TAR), `${ARM_TAR} is missing: run scripts/setup.sh (it fetches busybox-static:arm64)`);
  const handler = fs.readdirSync('/proc/sys/fs/binfmt_misc').some((n) => {
    try {
      return /^magic 7f454c460201010000000000000000000200b700$/m.test(fs.readFileSync(`/proc/sys/fs/binfmt_misc/${n}`, 'utf8'));
    } catch {
      return false;
    }
  });
  assert.ok(handler, 'no binfmt_misc handler for aarch64 programs: run scripts/setup.sh (qemu-user-static, binfmt-support)');
  tr = tempRoot('tsrun-platform-');
  fs.writeFileSync(path.join(tr.scratch, 'none.json'), '{}');
  importBusybox(tr.root);
  ok(['import', '--platform', 'linux/arm64', ARM_TAR, 'bbarm:1']);
});
after(() => {
  reg?.stop();
  tr?.cleanup();
});

describe('an arm64 image on this amd64 machine', () => {
  test('import --platform names the platform in the config; run runs it emulated', () => {
    const img = inspect('bbarm:1');
    assert.equal(img.Architecture, 'arm64');
    assert.equal(img.Os, 'linux');
    const r = tsrun(tr.root, ['run', '--rm', '--network', 'none', 'bbarm:1', 'uname', '-m'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'aarch64\n');
    // docker's warning when no --platform asked for it
    assert.match(r.stderr, /^WARNING: The requested image's platform \(linux\/arm64\) does not match the detected host platform \(linux\/amd64\) and no specific platform was requested$/m);
    const asked = tsrun(tr.root, ['run', '--rm', '--network', 'none', '--platform', 'linux/arm64', 'bbarm:1', 'sh', '-c', 'echo $((6*7))'], { env: env() });
    assert.equal(asked.stdout, '42\n');
    assert.equal(asked.stderr, '');
    // the host's own image is untouched by all this
    assert.equal(ok(['run', '--rm', '--network', 'none', 'busybox', 'uname', '-m']), 'x86_64\n');
  });

  test('build --platform linux/arm64: RUN steps run emulated, the image says arm64, TARGET* ARGs are arm64', () => {
    const dir = context('arm-build', {
      Dockerfile: [
        'FROM --platform=$BUILDPLATFORM busybox AS tools',
        'RUN uname -m > /build-arch',
        'FROM bbarm:1',
        'ARG TARGETPLATFORM TARGETARCH BUILDARCH',
        'COPY --from=tools /build-arch /build-arch',
        'RUN uname -m > /arch && echo "$TARGETPLATFORM $TARGETARCH $BUILDARCH" > /args',
        'CMD ["cat", "/arch", "/args", "/build-arch"]',
        '',
      ].join('\n'),
    });
    const r = tsrun(tr.root, ['build', '--progress', 'plain', '--platform', 'linux/arm64', '-t', 'armout:1', dir], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const img = inspect('armout:1');
    assert.equal(img.Architecture, 'arm64');
    assert.equal(ok(['run', '--rm', '--network', 'none', '--platform', 'linux/arm64', 'armout:1']), 'aarch64\nlinux/arm64 arm64 amd64\nx86_64\n');
  });

  test('build --platform linux/arm64 FROM scratch: the config says arm64', () => {
    const dir = context('arm-scratch', { Dockerfile: 'FROM scratch\nCOPY f /f\n', f: 'x\n' });
    ok(['build', '-q', '--platform', 'linux/arm64', '-t', 'armscratch:1', dir]);
    assert.equal(inspect('armscratch:1').Architecture, 'arm64');
  });

  test('a store image of another platform: counted as missing, as docker; the failed pull says both, the store as it was', () => {
    // a name whose registry refuses connections: the pull for arm64 fails fast and offline
    ok(['tag', 'busybox', '127.0.0.1:9/amd64only:1']);
    const before = snapshotTree(tr.root);
    const run = tsrun(tr.root, ['run', '--rm', '--platform', 'linux/arm64', '127.0.0.1:9/amd64only:1', 'true'], { env: env() });
    assert.equal(run.code, 125, run.stderr);
    assert.match(run.stderr, /^tsrun: image with reference 127\.0\.0\.1:9\/amd64only:1 was found but does not match the specified platform: wanted linux\/arm64, actual: linux\/amd64; pulling it failed: /m);
    const never = tsrun(tr.root, ['run', '--rm', '--pull', 'never', '--platform', 'linux/arm64', '127.0.0.1:9/amd64only:1', 'true'], { env: env() });
    assert.equal(never.code, 125);
    assert.match(never.stderr, /^tsrun: image with reference .* does not match the specified platform: wanted linux\/arm64, actual: linux\/amd64 \(/m);
    const dir = context('arm-mismatch', { Dockerfile: 'FROM 127.0.0.1:9/amd64only:1\nRUN true\n' });
    const b = tsrun(tr.root, ['build', '--platform', 'linux/arm64', dir], { env: env() });
    assert.equal(b.code, 1);
    const lines = b.stderr.split('\n').filter((l) => l.startsWith('tsrun:'));
    assert.equal(lines.length, 1, b.stderr);
    assert.match(lines[0]!, /^tsrun: Dockerfile:1: image with reference .* wanted linux\/arm64, actual: linux\/amd64; pulling it failed/);
    assert.deepEqual(snapshotTree(tr.root), before);
    ok(['rmi', '127.0.0.1:9/amd64only:1']);
  });

  test('a platform nothing here runs: one line, exit 125, no container', () => {
    ok(['import', '--platform', 'linux/mips64le', ARM_TAR, 'odd:1']);
    const before = snapshotTree(tr.root);
    const r = tsrun(tr.root, ['run', '--rm', 'odd:1', 'true'], { env: env() });
    assert.equal(r.code, 125);
    assert.match(r.stderr, /^tsrun: cannot run linux\/mips64le programs on this linux\/amd64 machine: /m);
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('tsrun:')).length, 1);
    const b = tsrun(tr.root, ['build', context('odd-build', { Dockerfile: 'FROM odd:1\nRUN true\n' })], { env: env() });
    assert.equal(b.code, 1);
    assert.match(b.stderr, /^tsrun: .*cannot run linux\/mips64le programs/m);
    assert.deepEqual(snapshotTree(tr.root), before);
    ok(['rmi', 'odd:1']);
  });

  test('bad --platform values: one line, exit 125, nothing made', () => {
    const before = snapshotTree(tr.root);
    const r = tsrun(tr.root, ['run', '--rm', '--platform', 'arm64', 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /^tsrun: invalid platform "arm64" \(use os\/arch\[\/variant\]/);
    const i = tsrun(tr.root, ['import', '--platform', 'linux', ARM_TAR, 'x:1']);
    assert.notEqual(i.code, 0);
    assert.match(i.stderr, /^tsrun: invalid platform "linux"/);
    assert.deepEqual(snapshotTree(tr.root), before);
  });
});

describe('pull --platform and run --platform from a two-platform index', () => {
  test('each platform gets its own manifest; a local image of the other platform is pulled over', async () => {
    reg = await startRegistry(path.join(tr.scratch, 'registry'));
    const layout = path.join(tr.scratch, 'multi');
    const multi = buildLayout(layout, { arches: ['amd64', 'arm64'], rootfs: { arm64: ARM_TAR } });
    skopeoPush(layout, 'latest', `${reg.host}/multi:1`, { multiArch: true });
    const ref = `${reg.host}/multi:1`;
    ok(['pull', '--platform', 'linux/arm64', ref]);
    assert.equal(inspect(ref).Id, multi.configs.arm64);
    assert.equal(ok(['run', '--rm', '--network', 'none', ref, 'uname', '-m']), 'aarch64\n');
    // run --platform for the other one: the local arm64 image counts as missing, amd64 is pulled
    const r = tsrun(tr.root, ['run', '--rm', '--network', 'none', '--platform', 'linux/amd64', ref, 'uname', '-m'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'x86_64\n');
    assert.match(r.stderr, /was found but does not match the specified platform: wanted linux\/amd64, actual: linux\/arm64/);
    assert.equal(inspect(ref).Id, multi.configs.amd64);
    // and back, through build: FROM the index for arm64
    const dir = context('multi-build', { Dockerfile: `FROM ${ref}\nRUN uname -m > /arch\n` });
    ok(['build', '-q', '--platform', 'linux/arm64', '-t', 'multi-built:1', dir]);
    assert.equal(inspect('multi-built:1').Architecture, 'arm64');
    assert.equal(ok(['run', '--rm', '--network', 'none', 'multi-built:1', 'cat', '/arch']), 'aarch64\n');
  });
});
