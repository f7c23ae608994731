/**
 * HTTP_PROXY / HTTPS_PROXY / NO_PROXY for registry traffic, against a real registry reached under a
 * name that resolves nowhere (`reg.proxied.test:PORT`): only a proxy started by the test
 * (connect-proxy.ts, which sends every host to 127.0.0.1) can reach it, so a pull that works went
 * through the proxy, and its log says how. Loopback registries never use the proxy (Go's rule).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, snapshotTree, importBusybox, type TempRoot } from '../helpers/cli.js';
import { buildLayout, skopeoPush, startHttpProxy, startRegistry, type TestRegistry } from '../helpers/registry.js';

let base: TempRoot;
let reg: TestRegistry;
let proxy: { url: string; stop(): void; log(): string };
let name: string;

const NONE = { HTTP_PROXY: '', http_proxy: '', HTTPS_PROXY: '', https_proxy: '', NO_PROXY: '', no_proxy: '' };

before(async () => {
  base = tempRoot('tsrun-proxyenv-');
  reg = await startRegistry(path.join(base.scratch, 'reg'));
  buildLayout(path.join(base.scratch, 'gz'));
  skopeoPush(path.join(base.scratch, 'gz'), 'latest', `${reg.host}/busybox:latest`, { format: 'v2s2' });
  proxy = await startHttpProxy(base.scratch);
  name = `reg.proxied.test:${reg.port}`;
  // plain http for the fake name, as for any registry listed insecure
  fs.writeFileSync(path.join(base.scratch, 'registries.json'), JSON.stringify({ insecure: [name] }));
});

after(() => {
  proxy?.stop();
  reg?.stop();
  base?.cleanup();
});

function pull(t: TempRoot, ref: string, env: Record<string, string>) {
  return tsrun(t.root, ['pull', '-q', ref], {
    env: { ...NONE, DOCKER_CONFIG: path.join(t.scratch, 'docker'), TSRUN_REGISTRIES_CONF: path.join(base.scratch, 'registries.json'), TSRUN_RETRY_BASE_MS: '1', ...env },
  });
}

/** The proxy log lines written while fn ran. */
function logDuring(fn: () => void): string {
  const before = proxy.log().length;
  fn();
  return proxy.log().slice(before);
}

test('HTTP_PROXY and http_proxy carry the pull; without them the name does not resolve', () => {
  for (const v of ['HTTP_PROXY', 'http_proxy']) {
    const t = tempRoot();
    try {
      const log = logDuring(() => {
        const r = pull(t, `${name}/busybox:latest`, { [v]: proxy.url });
        assert.equal(r.code, 0, r.stderr);
      });
      assert.match(log, new RegExp(`^CONNECT ${name.replace('.', '\\.')}$`, 'm'), v);
      assert.match(tsrun(t.root, ['images', '--format', '{{.Repository}}']).stdout, /reg\.proxied\.test/);
    } finally {
      t.cleanup();
    }
  }
  const t = tempRoot();
  try {
    // a store with an image before the snapshot (a read-only command such as `images` makes no store)
    importBusybox(t.root);
    const snap = snapshotTree(t.root);
    const log = logDuring(() => {
      const r = pull(t, `${name}/busybox:latest`, {});
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot resolve host reg\.proxied\.test/);
    });
    assert.equal(log, '');
    assert.deepEqual(snapshotTree(t.root), snap);
  } finally {
    t.cleanup();
  }
});

test('NO_PROXY: a domain and its subdomains, host:port, *, CIDR go direct; others through the proxy', () => {
  const t = tempRoot();
  try {
    for (const np of ['proxied.test', '.proxied.test', `reg.proxied.test:${reg.port}`, '*', 'example.com,PROXIED.TEST']) {
      for (const v of ['NO_PROXY', 'no_proxy']) {
        const log = logDuring(() => {
          const r = pull(t, `${name}/busybox:latest`, { HTTP_PROXY: proxy.url, [v]: np });
          assert.equal(r.code, 1, `${v}=${np} should go direct (and fail to resolve)`);
          assert.match(r.stderr, /cannot resolve host/);
        });
        assert.equal(log, '', `${v}=${np}`);
      }
    }
    for (const np of ['other.test', `reg.proxied.test:${reg.port + 1}`, 'test.proxied', '10.0.0.0/8']) {
      const r = pull(t, `${name}/busybox:latest`, { HTTP_PROXY: proxy.url, NO_PROXY: np });
      assert.equal(r.code, 0, `NO_PROXY=${np}: ${r.stderr}`);
    }
  } finally {
    t.cleanup();
  }
});

test('HTTPS_PROXY carries https registries (a CONNECT to the registry), HTTP_PROXY does not', () => {
  const t = tempRoot();
  try {
    const secure = `sec.proxied.test:${reg.port}`; // not listed insecure: https; the registry speaks http, so TLS fails after the tunnel
    let log = logDuring(() => {
      const r = pull(t, `${secure}/busybox:latest`, { HTTPS_PROXY: proxy.url });
      assert.equal(r.code, 1);
      assert.doesNotMatch(r.stderr, /cannot resolve host/);
    });
    assert.match(log, new RegExp(`^CONNECT sec\\.proxied\\.test:${reg.port}$`, 'm'));
    log = logDuring(() => {
      const r = pull(t, `${secure}/busybox:latest`, { HTTP_PROXY: proxy.url, https_proxy: '' });
      assert.match(r.stderr, /cannot resolve host sec\.proxied\.test/);
    });
    assert.equal(log, '');
  } finally {
    t.cleanup();
  }
});

test('a loopback registry never goes through the proxy (as Go)', () => {
  const t = tempRoot();
  try {
    const log = logDuring(() => {
      const r = pull(t, `${reg.host}/busybox:latest`, { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url });
      assert.equal(r.code, 0, r.stderr);
    });
    assert.equal(log, '');
  } finally {
    t.cleanup();
  }
});

test('push goes through the proxy too', () => {
  const t = tempRoot();
  try {
    assert.equal(pull(t, `${reg.host}/busybox:latest`, {}).code, 0);
    const env = { ...NONE, HTTP_PROXY: proxy.url, DOCKER_CONFIG: path.join(t.scratch, 'docker'), TSRUN_REGISTRIES_CONF: path.join(base.scratch, 'registries.json') };
    assert.equal(tsrun(t.root, ['tag', `${reg.host}/busybox:latest`, `${name}/pushed:1`]).code, 0);
    const log = logDuring(() => {
      const r = tsrun(t.root, ['push', '-q', `${name}/pushed:1`], { env });
      assert.equal(r.code, 0, r.stderr);
    });
    assert.match(log, /^CONNECT reg\.proxied\.test:/m);
  } finally {
    t.cleanup();
  }
});
