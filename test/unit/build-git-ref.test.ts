/** Git source URLs: BuildKit's `REMOTE#REF:SUBDIR` fragment, which contexts are git, credentials hidden. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGitContext, parseGitRef, shownRemote } from '../../src/ops/build/git-source.js';

test('REMOTE#REF:SUBDIR', () => {
  assert.deepEqual(parseGitRef('https://h/r.git'), { remote: 'https://h/r.git' });
  assert.deepEqual(parseGitRef('https://h/r.git#v1.2'), { remote: 'https://h/r.git', ref: 'v1.2' });
  assert.deepEqual(parseGitRef('https://h/r.git#main:docs/site'), { remote: 'https://h/r.git', ref: 'main', subdir: 'docs/site' });
  assert.deepEqual(parseGitRef('git@github.com:o/r.git#:sub'), { remote: 'git@github.com:o/r.git', subdir: 'sub' });
  assert.deepEqual(parseGitRef('git://h:9418/r.git#refs/pull/1/head:/'), { remote: 'git://h:9418/r.git', ref: 'refs/pull/1/head' });
  assert.throws(() => parseGitRef('#main'), /no repository/);
});

test('git contexts: BuildKit shapes and file://; plain paths and http without .git are not', () => {
  for (const s of ['https://github.com/o/r.git', 'git@github.com:o/r.git#main', 'git://h/r', 'ssh://git@h/r.git', 'github.com/o/r', 'file:///srv/r.git', 'https://h/r.git#v1:sub']) assert.equal(isGitContext(s), true, s);
  for (const s of ['.', 'ctx', '/tmp/r.git', 'https://h/archive.tar.gz', '-']) assert.equal(isGitContext(s), false, s);
});

test('credentials are not shown', () => {
  assert.equal(shownRemote('https://user:tok@h/r.git'), 'https://h/r.git');
  assert.equal(shownRemote('git@h:o/r.git'), 'git@h:o/r.git');
});
