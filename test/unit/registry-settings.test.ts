/** Registry settings, endpoints, WWW-Authenticate challenges and docker config keys: pure, table-driven. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseChallenges, pickChallenge } from '../../src/registry/challenge.js';
import { loadSettings, pullEndpoints, registryEndpoint, isLoopback } from '../../src/registry/settings.js';
import { authKey, getCredentials, storeCredentials, removeCredentials } from '../../src/registry/credentials.js';
import { TsrunError } from '../../src/util/errors.js';

const NONE = { mirrors: {}, insecure: [] };

test('challenges: Docker Hub style bearer, basic, several in one header', () => {
  const hub = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"';
  assert.deepEqual(parseChallenges(hub), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/ubuntu:pull' } },
  ]);
  assert.equal(pickChallenge('Basic realm="x", Bearer realm="https://t/token",service="s"')?.scheme, 'bearer');
  assert.equal(pickChallenge('Basic realm="Registry Realm"')?.scheme, 'basic');
  assert.equal(pickChallenge(null), undefined);
  // a quoted comma and an escaped quote stay inside their value
  assert.equal(parseChallenges('Bearer realm="a,b",scope="x\\"y"')[0]!.params.realm, 'a,b');
});

test('endpoints: loopback is plain http, others https unless insecure; mirrors first; docker.io API host', () => {
  const table: [string, string][] = [
    ['localhost:5000', 'http://localhost:5000'],
    ['127.0.0.1:5000', 'http://127.0.0.1:5000'],
    ['127.8.9.10', 'http://127.8.9.10'],
    ['[::1]:5000', 'http://[::1]:5000'],
    ['ghcr.io', 'https://ghcr.io'],
    ['docker.io', 'https://registry-1.docker.io'],
  ];
  for (const [reg, base] of table) assert.equal(registryEndpoint(reg, NONE).base, base, reg);
  assert.equal(isLoopback('10.0.0.1:5000'), false);
  assert.equal(registryEndpoint('myreg:5000', { mirrors: {}, insecure: ['myreg:5000'] }).base, 'http://myreg:5000');
  assert.equal(registryEndpoint('myreg:5000', { mirrors: {}, insecure: ['myreg'] }).base, 'http://myreg:5000');
  const eps = pullEndpoints('docker.io', { mirrors: { 'docker.io': ['http://127.0.0.1:5001'] }, insecure: [] });
  assert.deepEqual(
    eps.map((e) => [e.base, e.mirror]),
    [
      ['http://127.0.0.1:5001', true],
      ['https://registry-1.docker.io', false],
    ],
  );
});

test('settings file: missing is empty, bad JSON and bad shapes are one-line usage errors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-settings-'));
  try {
    assert.deepEqual(loadSettings(path.join(dir, 'missing.json')), NONE);
    const f = path.join(dir, 'r.json');
    fs.writeFileSync(f, JSON.stringify({ mirrors: { 'docker.io': ['http://m:5000/'] }, insecure: ['a:1'] }));
    assert.deepEqual(loadSettings(f), { mirrors: { 'docker.io': ['http://m:5000'] }, insecure: ['a:1'] });
    for (const bad of ['{', '{"mirrors": []}', '{"mirrors": {"docker.io": ["ftp://x"]}}', '{"insecure": "a"}']) {
      fs.writeFileSync(f, bad);
      assert.throws(() => loadSettings(f), (e: unknown) => e instanceof TsrunError && e.code === 'USAGE' && !e.message.includes('\n'), bad);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('credentials: docker config.json keys, 0600, other keys kept, logout removes', () => {
  assert.equal(authKey('docker.io'), 'https://index.docker.io/v1/');
  assert.equal(authKey('localhost:5000'), 'localhost:5000');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-creds-'));
  try {
    const f = path.join(dir, 'config.json');
    fs.writeFileSync(f, JSON.stringify({ auths: {}, psFormat: 'table {{.ID}}' }));
    storeCredentials('localhost:5000', { username: 'u', password: 'p:w' }, f);
    const saved = JSON.parse(fs.readFileSync(f, 'utf8'));
    assert.equal(saved.psFormat, 'table {{.ID}}');
    assert.equal(Buffer.from(saved.auths['localhost:5000'].auth, 'base64').toString(), 'u:p:w');
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    assert.deepEqual(getCredentials('localhost:5000', f), { username: 'u', password: 'p:w' });
    assert.equal(removeCredentials('localhost:5000', f), true);
    assert.equal(getCredentials('localhost:5000', f), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
