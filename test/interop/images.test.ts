/** tsrun's archives against podman, skopeo and umoci, both directions. */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrunOk, busyboxTar, importBusybox } from '../helpers/cli.js';
import { podman, sh, have, type Podman } from '../helpers/peers.js';

const t = tempRoot('tsrun-interop-images-');
let pm: Podman;
// podman refuses a runroot longer than 50 characters: a short base of its own
const pmBase = fs.mkdtempSync('/tmp/pmi-');
before(() => {
  pm = podman(pmBase);
});
after(() => {
  pm?.cleanup();
  fs.rmSync(pmBase, { recursive: true, force: true });
  t.cleanup();
});

test('podman save (docker-archive, oci-archive) → tsrun load: same image ID', { skip: !have('podman') }, () => {
  pm.run(['import', busyboxTar(), 'pbb:1']);
  const podmanId = pm.run(['image', 'inspect', '--format', '{{.Id}}', 'pbb:1']).stdout.trim();
  for (const format of ['docker-archive', 'oci-archive']) {
    const file = path.join(t.scratch, `p-${format}.tar`);
    pm.run(['save', '--format', format, '-o', file, 'pbb:1']);
    const out = tsrunOk(t.root, ['load', '-i', file]);
    assert.equal(out, 'Loaded image: localhost/pbb:1\n', format);
    const [img] = JSON.parse(tsrunOk(t.root, ['image', 'inspect', 'localhost/pbb:1']));
    assert.equal(img.Id.replace(/^sha256:/, ''), podmanId.replace(/^sha256:/, ''), format);
  }
});

test('tsrun save (docker-archive) → podman load → podman run echo hi', { skip: !have('podman') }, () => {
  importBusybox(t.root, 'tbb:1');
  const file = path.join(t.scratch, 't-docker.tar');
  tsrunOk(t.root, ['save', '-o', file, 'tbb:1']);
  const loaded = pm.run(['load', '-i', file]).stdout;
  assert.match(loaded, /tbb:1/);
  const id = JSON.parse(tsrunOk(t.root, ['image', 'inspect', 'tbb:1']))[0].Id as string;
  assert.equal(pm.run(['image', 'inspect', '--format', '{{.Id}}', 'tbb:1']).stdout.trim().replace(/^sha256:/, ''), id.slice(7));
  const r = pm.run(['run', '--rm', '--network', 'none', 'tbb:1', 'echo', 'hi']) // podman names the familiar tbb:1 localhost/tbb:1;
  assert.equal(r.stdout, 'hi\n');
});

test('tsrun save --format oci-archive → skopeo inspect, umoci unpack', { skip: !have('skopeo') }, () => {
  const file = path.join(t.scratch, 't-oci.tar');
  tsrunOk(t.root, ['save', '--format', 'oci-archive', '-o', file, 'tbb:1']);
  const diffIds = JSON.parse(tsrunOk(t.root, ['image', 'inspect', 'tbb:1']))[0].RootFS.Layers as string[];
  const info = JSON.parse(sh('skopeo', ['inspect', `oci-archive:${file}`]).stdout);
  assert.equal(info.Layers.length, 1);
  assert.equal(info.Os, 'linux');
  const cfg = JSON.parse(sh('skopeo', ['inspect', '--config', `oci-archive:${file}`]).stdout);
  assert.deepEqual(cfg.rootfs.diff_ids, diffIds);
  if (!have('umoci')) return;
  const layout = path.join(t.scratch, 'layout');
  fs.mkdirSync(layout);
  sh('tar', ['-xf', file, '-C', layout]);
  const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8'));
  const ref = index.manifests[0].annotations['org.opencontainers.image.ref.name'] as string;
  const bundle = path.join(t.scratch, 'bundle');
  sh('umoci', ['unpack', '--image', `${layout}:${ref}`, bundle]);
  assert.ok(fs.statSync(path.join(bundle, 'rootfs', 'bin', 'busybox')).isFile());
});
