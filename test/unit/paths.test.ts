/**
 * cleanMemberName's fast path (a name already clean but for a leading `./`
 * and a trailing `/`) must give what the full split/join cleaning gives, for
 * every name: checked against a reference on the edge cases and on many
 * generated names made of `.`, `..`, empty and plain parts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanMemberName } from '../../src/util/paths.js';

/** The cleaning rule spelled out: drop empty and `.` parts, `..` pops (and may not climb above the root). */
function reference(name: string): string {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return 'ESCAPES';
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.join('/');
}

function cleaned(name: string): string {
  try {
    return cleanMemberName(name);
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'UNSAFE_PATH');
    return 'ESCAPES';
  }
}

test('cleanMemberName: the edge cases', () => {
  for (const name of ['', '.', './', '/', '//', 'a', './a', 'a/', './a/b/', '/a', '..', '../a', 'a/..', 'a/../..', '.../a', './../a', 'a//b', 'a/./b', '.a/b.', './/a']) {
    assert.equal(cleaned(name), reference(name), JSON.stringify(name));
  }
});

test('cleanMemberName: 100,000 generated names agree with the reference', () => {
  const pieces = ['a', 'b', '.', '..', '', '...', '.a', 'a.', '.wh.x'];
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let i = 0; i < 100_000; i++) {
    let name = '';
    for (let j = 0, k = 1 + rand(6); j < k; j++) name += pieces[rand(pieces.length)]! + (rand(10) < 7 ? '/' : '');
    assert.equal(cleaned(name), reference(name), JSON.stringify(name));
  }
});
