/** ADD's pure parts: archive detection by content, URL file names, git source shapes, --checksum values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compressionOf, isTarHeader } from '../../src/ops/build/add-archive.js';
import { isGitSource, parseChecksum, urlFileName } from '../../src/ops/build/add-url.js';

function ustarHeader(name: string): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0);
  b.write('0000644\0', 100);
  b.write('00000000000\0', 124);
  b.write('ustar\0' + '00', 257);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return b;
}

test('compression is told by magic bytes, not names', () => {
  assert.equal(compressionOf(Buffer.from([0x1f, 0x8b, 8])), 'gzip');
  assert.equal(compressionOf(Buffer.from('BZh91AY')), 'bzip2');
  assert.equal(compressionOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0])), 'xz');
  assert.equal(compressionOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0])), 'zstd');
  assert.equal(compressionOf(Buffer.from('hello')), 'none');
  assert.equal(compressionOf(Buffer.alloc(0)), 'none');
});

test('a tar is a block whose checksum matches; zeros, text and a damaged header are not', () => {
  const h = ustarHeader('a.txt');
  assert.equal(isTarHeader(h), true);
  assert.equal(isTarHeader(Buffer.alloc(512)), false);
  assert.equal(isTarHeader(Buffer.alloc(512, 'x')), false);
  assert.equal(isTarHeader(h.subarray(0, 300)), false);
  const bad = Buffer.from(h);
  bad[0] = 0x62;
  assert.equal(isTarHeader(bad), false);
});

test('a URL downloads to its last path segment', () => {
  assert.equal(urlFileName('http://h/a/b/tool.tar.gz?x=1'), 'tool.tar.gz');
  assert.equal(urlFileName('https://h/dir/with%20space.txt'), 'with space.txt');
  assert.equal(urlFileName('https://h/'), '__unnamed__');
  assert.equal(urlFileName('https://h/a/..'), '__unnamed__');
});

test('git sources are recognised as BuildKit does', () => {
  for (const s of ['git@github.com:moby/buildkit.git', 'git://host/repo', 'https://github.com/moby/buildkit.git', 'https://host/repo.git#v1', 'github.com/moby/buildkit']) assert.equal(isGitSource(s), true, s);
  for (const s of ['https://host/file.tar.gz', 'http://host/git/readme', 'dir/file.git.txt', 'local.git']) assert.equal(isGitSource(s), false, s);
});

test('--checksum takes sha256:<64 hex> only', () => {
  assert.equal(parseChecksum('sha256:' + 'a'.repeat(64)), 'a'.repeat(64));
  for (const bad of ['sha256:abc', 'sha512:' + 'a'.repeat(128), 'a'.repeat(64), 'sha256:' + 'A'.repeat(64)]) assert.throws(() => parseChecksum(bad), /invalid checksum/);
});
