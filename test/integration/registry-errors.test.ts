/**
 * Bad registries and bad content: each pull fails with one `tsrun: ` line
 * naming the reference and the cause, exits non-zero, and leaves the store
 * exactly as it was (no tag, no blob or layer of the failed pull).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { importBusybox, snapshotTree, tempRoot, tsrun, type TempRoot } from '../helpers/cli.js';
import { buildLayout, freePort, registryBlobFile, skopeoPush, startProxy, startRegistry, type LayoutImage, type TestRegistry } from '../helpers/registry.js';

describe('registry pull failures leave the store unchanged', () => {
  let base: TempRoot;
  let reg: TestRegistry;
  let img: LayoutImage;
  let store: TempRoot;
  const env = () => ({ DOCKER_CONFIG: path.join(base.scratch, 'docker'), TSRUN_REGISTRIES_CONF: path.join(base.scratch, 'none.json'), TSRUN_RETRY_BASE_MS: '10' });

  before(async () => {
    base = tempRoot('tsrun-regerr-');
    reg = await startRegistry(path.join(base.scratch, 'reg'));
    img = buildLayout(path.join(base.scratch, 'gz'));
    skopeoPush(path.join(base.scratch, 'gz'), 'latest', `${reg.host}/good:1`, { format: 'oci' });
    skopeoPush(path.join(base.scratch, 'gz'), 'latest', `${reg.host}/tampered:1`, { format: 'oci' });
    // a store that already has an image, so "unchanged" means something
    store = tempRoot();
    importBusybox(store.root, 'local:1');
  });
  after(() => {
    reg?.stop();
    store?.cleanup();
    base?.cleanup();
  });

  function fails(ref: string, pattern: RegExp, code?: string): string {
    const before = snapshotTree(store.root);
    const r = tsrun(store.root, ['pull', ref], { env: env(), timeoutMs: 60_000 });
    assert.notEqual(r.code, 0, `pull ${ref} should fail`);
    assert.equal(r.code, 1, 'a failed pull exits 1, as docker pull');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
    assert.match(lines[0]!, /^tsrun: /);
    assert.match(lines[0]!, pattern);
    assert.ok(lines[0]!.includes(ref.replace(/^([^/]*\/)?/, '')) || lines[0]!.includes(ref), `names the reference: ${lines[0]}`);
    assert.deepEqual(snapshotTree(store.root), before, 'store unchanged');
    void code;
    return lines[0]!;
  }

  it('unknown repository or tag: manifest unknown', () => {
    fails(`${reg.host}/good:nope`, /manifest unknown/);
    fails(`${reg.host}/nosuchrepo:1`, /(manifest unknown|name unknown|repository name not known)/);
  });

  it('registry down: connection refused', async () => {
    const port = await freePort();
    fails(`127.0.0.1:${port}/x:1`, /connection refused/);
  });

  it('DNS failure', () => {
    fails('nonexistent.invalid/x:1', /cannot resolve host nonexistent\.invalid/);
  });

  it('a blob whose bytes were changed on the registry: DIGEST_MISMATCH', () => {
    const f = registryBlobFile(reg, img.layerDigest);
    const copy = path.join(base.scratch, 'layer-orig');
    fs.copyFileSync(f, copy);
    try {
      const buf = fs.readFileSync(f);
      buf[buf.length >> 1] ^= 0xff;
      fs.writeFileSync(f, buf);
      fails(`${reg.host}/tampered:1`, /does not match/);
    } finally {
      fs.copyFileSync(copy, f);
    }
  });

  it('a manifest that points at a missing blob', () => {
    const f = registryBlobFile(reg, img.layerDigest);
    const moved = path.join(base.scratch, 'layer-moved');
    fs.renameSync(f, moved);
    try {
      fails(`${reg.host}/good:1`, /blob unknown|not found/);
    } finally {
      fs.renameSync(moved, f);
    }
  });

  it('a response cut half-way through a blob', async () => {
    const p = await startProxy(base.scratch, 'cut-blobs', `http://${reg.host}`);
    try {
      fails(`${p.host}/good:1`, /reset|terminated|size|closed/);
    } finally {
      p.stop();
    }
  });

  it('503, 429 and a reset connection are retried with backoff, and the pull then succeeds', async () => {
    const p = await startProxy(base.scratch, 'flaky', `http://${reg.host}`);
    const t = tempRoot();
    try {
      const out = tsrun(t.root, ['pull', '-a', `${p.host}/good`], { env: env(), timeoutMs: 60_000 });
      assert.equal(out.code, 0, out.stderr);
      const log = p.log();
      assert.match(log, /GET \/v2\/good\/tags\/list\S* \(first\)\nGET \/v2\/good\/tags\/list\S*\n/, `the reset tags request was retried: ${log}`);
      for (const kind of ['manifests', 'blobs']) {
        const firsts = log.split('\n').filter((l) => l.includes(`/${kind}/`) && l.startsWith('GET') && l.endsWith('(first)'));
        assert.ok(firsts.length > 0, `some ${kind} were fetched`);
        for (const f of firsts) assert.ok(log.includes(f.replace(' (first)', '') + '\n'), `${f} was retried`);
      }
      assert.match(tsrun(t.root, ['images', '--format', 'json']).stdout, /good/);
    } finally {
      p.stop();
      t.cleanup();
    }
  });

  it('a manifest larger than 4 MiB (with and without Content-Length)', async () => {
    for (const mode of ['huge', 'huge-nolength'] as const) {
      const p = await startProxy(base.scratch, mode);
      try {
        fails(`${p.host}/big:1`, /more than the limit/);
      } finally {
        p.stop();
      }
    }
  });

  it('a manifest that is not JSON', async () => {
    const p = await startProxy(base.scratch, 'nonjson');
    try {
      fails(`${p.host}/junk:1`, /not valid JSON/);
    } finally {
      p.stop();
    }
  });

  it('a layer that is not a valid tar', async () => {
    // a layout whose layer is gzip of junk, with a matching diff_id so only the tar check can catch it
    const dir = path.join(base.scratch, 'badtar');
    const lay = buildLayout(dir);
    const zlib = await import('node:zlib');
    const crypto = await import('node:crypto');
    const junk = Buffer.alloc(4096, 0x41);
    const gz = zlib.gzipSync(junk);
    const sha = (b: Buffer | string) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
    const blobs = path.join(dir, 'blobs', 'sha256');
    fs.writeFileSync(path.join(blobs, sha(gz).slice(7)), gz);
    const config = JSON.parse(fs.readFileSync(path.join(blobs, lay.configs.amd64!.slice(7)), 'utf8'));
    config.rootfs.diff_ids = [sha(junk)];
    const cfg = Buffer.from(JSON.stringify(config));
    fs.writeFileSync(path.join(blobs, sha(cfg).slice(7)), cfg);
    const manifest = JSON.parse(fs.readFileSync(path.join(blobs, lay.manifests.amd64!.slice(7)), 'utf8'));
    manifest.config = { ...manifest.config, digest: sha(cfg), size: cfg.length };
    manifest.layers = [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length }];
    const man = Buffer.from(JSON.stringify(manifest));
    fs.writeFileSync(path.join(blobs, sha(man).slice(7)), man);
    fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: manifest.mediaType, digest: sha(man), size: man.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
    skopeoPush(dir, 'latest', `${reg.host}/badtar:1`, { format: 'oci' });
    fails(`${reg.host}/badtar:1`, /tar|header|archive/i);
  });

  it('401 without login', async () => {
    const authReg = await startRegistry(path.join(base.scratch, 'reg-basic'), 'basic');
    try {
      const line = fails(`${authReg.host}/x:1`, /authentication required/);
      assert.match(line, /tsrun login/);
    } finally {
      authReg.stop();
    }
  });

  it('an interrupted pull leaves nothing visible and the next pull works', async () => {
    const { tsrunSpawn } = await import('../helpers/cli.js');
    const t = tempRoot();
    try {
      const p = await startProxy(base.scratch, 'cut-blobs', `http://${reg.host}`); // a blob that never finishes… then SIGKILL
      const child = tsrunSpawn(t.root, ['pull', `${p.host}/good:1`], { env: env() });
      // listen before killing: a pull that already ended must not leave us waiting for a 'close' that fired
      const closed = new Promise((r) => child.once('close', r));
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGKILL');
      await closed;
      p.stop();
      const idx = fs.existsSync(path.join(t.root, 'images', 'index.json')) ? JSON.parse(fs.readFileSync(path.join(t.root, 'images', 'index.json'), 'utf8')) : { tags: {} };
      assert.deepEqual(idx.tags, {});
      const r = tsrun(t.root, ['pull', `${reg.host}/good:1`], { env: env() });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fs.readdirSync(path.join(t.root, 'content', 'ingest')), []);
    } finally {
      t.cleanup();
    }
  });
});
