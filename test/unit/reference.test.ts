import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReference, formatReference, familiarName } from '../../src/oci/reference.js';
import { TsrunError } from '../../src/util/errors.js';

const D = 'sha256:' + 'a'.repeat(64);

test('references normalise the way docker does', () => {
  const table: [string, string][] = [
    ['ubuntu', 'docker.io/library/ubuntu:latest'],
    ['ubuntu:22.04', 'docker.io/library/ubuntu:22.04'],
    ['user/app:1', 'docker.io/user/app:1'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    ['localhost/x:2', 'localhost/x:2'],
    [`host.io:443/a/b@${D}`, `host.io:443/a/b@${D}`],
    [`host.io:443/a/b:t@${D}`, `host.io:443/a/b:t@${D}`],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest'],
  ];
  for (const [input, want] of table) assert.equal(formatReference(parseReference(input)), want, input);
});

test('bad references are refused with INVALID_REFERENCE', () => {
  for (const bad of ['Ubuntu', 'user/App', 'ubuntu:bad tag', 'ubuntu:-x', 'ubuntu@sha256:123', '', 'a//b', ':tag', 'x:' + 't'.repeat(200)]) {
    assert.throws(
      () => parseReference(bad),
      (e: unknown) => e instanceof TsrunError && e.code === 'INVALID_REFERENCE',
      JSON.stringify(bad),
    );
  }
});

test('familiar names drop docker.io and library', () => {
  assert.equal(familiarName('docker.io/library/ubuntu'), 'ubuntu');
  assert.equal(familiarName('docker.io/user/app'), 'user/app');
  assert.equal(familiarName('localhost:5000/x'), 'localhost:5000/x');
});
