/**
 * push, login and logout against real registries (plain, htpasswd basic
 * auth, bearer tokens): what tsrun pushes, skopeo inspects and podman pulls
 * and runs; a second push to another repository mounts instead of uploading.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { importBusybox, snapshotTree, tempRoot, tsrun, tsrunOk, type TempRoot } from '../helpers/cli.js';
import { have, podman, sh } from '../helpers/peers.js';
import { startRegistry, type AuthMode, type TestRegistry } from '../helpers/registry.js';

function envOf(t: TempRoot) {
  return { DOCKER_CONFIG: path.join(t.scratch, 'docker'), TSRUN_REGISTRIES_CONF: path.join(t.scratch, 'none.json') };
}

describe('registry push (plain)', () => {
  let t: TempRoot;
  let reg: TestRegistry;
  before(async () => {
    t = tempRoot('tsrun-regpush-');
    reg = await startRegistry(path.join(t.scratch, 'reg'));
    importBusybox(t.root, 'busybox:latest');
  });
  after(() => {
    reg?.stop();
    t?.cleanup();
  });

  it('pushes; skopeo and podman read it; a second repo mounts the blobs; RepoDigest recorded', async () => {
    const env = envOf(t);
    tsrunOk(t.root, ['tag', 'busybox', `${reg.host}/one/bb:1`]);
    const out = tsrunOk(t.root, ['push', `${reg.host}/one/bb:1`], { env });
    const m = /^1: digest: (sha256:[a-f0-9]{64}) size: (\d+)$/m.exec(out);
    assert.ok(m, out);
    assert.match(out, /^The push refers to repository \[.*\/one\/bb\]$/m);
    assert.match(out, /: Pushed$/m);
    const digest = m![1]!;
    const insp = JSON.parse(sh('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/one/bb:1`]).stdout);
    assert.equal(insp.Digest, digest);
    assert.equal(insp.Os, 'linux');
    const idx = JSON.parse(fs.readFileSync(path.join(t.root, 'images', 'index.json'), 'utf8'));
    const id = idx.tags[`${reg.host}/one/bb:1`];
    assert.ok(idx.images[id].repoDigests.includes(`${reg.host}/one/bb@${digest}`));
    // the gzip made for the push is remembered: a second push compresses nothing and mounts
    assert.ok(fs.existsSync(path.join(t.root, 'content', 'compressed.json')));
    tsrunOk(t.root, ['tag', 'busybox', `${reg.host}/two/bb:2`]);
    const out2 = tsrunOk(t.root, ['push', `${reg.host}/two/bb:2`], { env });
    assert.match(out2, /Mounted from one\/bb/);
    assert.ok((await reg.logSynced()).includes('mount=sha256'), 'registry saw a cross-repository mount');
    assert.match(out2, new RegExp(`2: digest: ${digest}`), 'same manifest bytes');
    // pushing again: everything already exists
    const out3 = tsrunOk(t.root, ['push', `${reg.host}/two/bb:2`], { env });
    assert.match(out3, /Layer already exists/);
    // and tsrun pulls back what it pushed, by digest, in a fresh store
    const t2 = tempRoot();
    try {
      tsrunOk(t2.root, ['pull', `${reg.host}/one/bb@${digest}`], { env });
      const idx2 = JSON.parse(fs.readFileSync(path.join(t2.root, 'images', 'index.json'), 'utf8'));
      assert.ok(idx2.images[id], 'same image ID after push and pull');
    } finally {
      t2.cleanup();
    }
  });

  it('podman pulls and runs what tsrun pushed', { skip: !have('podman') }, () => {
    const env = envOf(t);
    tsrunOk(t.root, ['tag', 'busybox', `${reg.host}/pod/bb:1`]);
    tsrunOk(t.root, ['push', `${reg.host}/pod/bb:1`], { env });
    const p = podman(t.scratch);
    try {
      p.run(['pull', '--tls-verify=false', `${reg.host}/pod/bb:1`]);
      const r = p.run(['run', '--rm', `${reg.host}/pod/bb:1`, 'echo', 'hello from tsrun']);
      assert.equal(r.stdout.trim(), 'hello from tsrun');
    } finally {
      p.cleanup();
    }
  });

  it('push of an unknown image fails with one line and changes nothing', () => {
    const before = snapshotTree(t.root);
    const r = tsrun(t.root, ['push', `${reg.host}/nope:1`], { env: envOf(t) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tsrun: .*does not exist locally.*\n$/);
    assert.deepEqual(snapshotTree(t.root), before);
  });
});

for (const mode of ['basic', 'token'] as AuthMode[]) {
  describe(`registry with ${mode} auth`, () => {
    let t: TempRoot;
    let reg: TestRegistry;
    before(async () => {
      t = tempRoot(`tsrun-reg${mode}-`);
      reg = await startRegistry(path.join(t.scratch, 'reg'), mode);
      importBusybox(t.root, 'busybox:latest');
    });
    after(() => {
      reg?.stop();
      t?.cleanup();
    });

    it('refuses without login, refuses a wrong password, then login + push + pull + logout', () => {
      const env = envOf(t);
      const ref = `${reg.host}/private/bb:1`;
      tsrunOk(t.root, ['tag', 'busybox', ref]);
      const before = snapshotTree(t.root);
      const denied = tsrun(t.root, ['push', ref], { env });
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /^tsrun: .*authentication required.*tsrun login.*\n$/);
      const bad = tsrun(t.root, ['login', '-u', reg.user, '--password-stdin', reg.host], { env, input: 'wrong\n' });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^tsrun: login to .* failed/);
      assert.ok(!fs.existsSync(path.join(env.DOCKER_CONFIG, 'config.json')), 'nothing stored for a failed login');
      assert.deepEqual(snapshotTree(t.root), before);

      // other keys in config.json are kept
      fs.mkdirSync(env.DOCKER_CONFIG, { recursive: true });
      fs.writeFileSync(path.join(env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ auths: { 'other.example': { auth: 'eDp5' } }, psFormat: 'table' }));
      const ok = tsrunOk(t.root, ['login', '-u', reg.user, '--password-stdin', reg.host], { env, input: `${reg.pass}\n` });
      assert.equal(ok, 'Login Succeeded\n');
      const cfgFile = path.join(env.DOCKER_CONFIG, 'config.json');
      assert.equal(fs.statSync(cfgFile).mode & 0o777, 0o600);
      const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
      assert.equal(cfg.psFormat, 'table');
      assert.ok(cfg.auths['other.example']);
      assert.equal(Buffer.from(cfg.auths[reg.host].auth, 'base64').toString(), `${reg.user}:${reg.pass}`);

      const out = tsrunOk(t.root, ['push', ref], { env });
      assert.match(out, /1: digest: sha256:/);
      const t2 = tempRoot();
      try {
        tsrunOk(t2.root, ['pull', ref], { env });
      } finally {
        t2.cleanup();
      }
      if (mode === 'token') assert.match(reg.tokenLog(), /scope=repository%3Aprivate%2Fbb%3Apull%2Cpush&account=tester auth=Basic/);
      // skopeo reads it with the same credentials
      sh('skopeo', ['inspect', '--tls-verify=false', '--creds', `${reg.user}:${reg.pass}`, `docker://${ref}`]);

      assert.equal(tsrunOk(t.root, ['logout', reg.host], { env }), `Removing login credentials for ${reg.host}\n`);
      const after = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
      assert.equal(after.auths[reg.host], undefined);
      assert.ok(after.auths['other.example']);
      const t3 = tempRoot();
      try {
        const r = tsrun(t3.root, ['pull', ref], { env });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /authentication required/);
      } finally {
        t3.cleanup();
      }
    });
  });
}
