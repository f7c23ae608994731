import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainIds, checkDigest, isDigest, sha256, shortId } from '../../src/oci/digest.js';
import { TsrunError } from '../../src/util/errors.js';

test('sha256 of known input', () => {
  assert.equal(sha256(''), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(sha256('abc'), 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('digest validation', () => {
  assert.ok(isDigest('sha256:' + 'f'.repeat(64)));
  for (const bad of ['sha256:' + 'F'.repeat(64), 'sha256:abc', 'md5:' + 'a'.repeat(32), 'sha256:' + 'a'.repeat(65), 42]) {
    assert.throws(() => checkDigest(bad), (e: unknown) => e instanceof TsrunError && e.code === 'INVALID_ARCHIVE');
  }
  assert.equal(shortId('sha256:0123456789abcdef' + '0'.repeat(48)), '0123456789ab');
});

test('chain IDs match a vector computed with sha256sum', () => {
  const a = 'sha256:e9e2b787d5b30a65d05ee204f85d15bdd91c25ea9d3488372cddbb55e4453096';
  const b = 'sha256:' + '0'.repeat(63) + '1';
  // printf '%s %s' A B | sha256sum
  assert.deepEqual(chainIds([a, b]), [a, 'sha256:e0327f8f6e655470c63a7043cdee0c8af1baae3722dedca434754cc84964585b']);
  assert.deepEqual(chainIds([]), []);
});
