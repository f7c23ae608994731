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

test("BuildKit's query form: ?ref= &subdir= &tag= &branch= &checksum= &keep-git-dir= &submodules=", () => {
  assert.deepEqual(parseGitRef('https://h/r.git?ref=v1&subdir=docs'), { remote: 'https://h/r.git', ref: 'v1', subdir: 'docs' });
  assert.deepEqual(parseGitRef('https://h/r.git?tag=v1'), { remote: 'https://h/r.git', ref: 'refs/tags/v1' });
  assert.deepEqual(parseGitRef('git@h:o/r.git?branch=dev&subdir=a/b'), { remote: 'git@h:o/r.git', ref: 'refs/heads/dev', subdir: 'a/b' });
  assert.deepEqual(parseGitRef('https://h/r.git?commit=abc123&keep-git-dir&submodules=false'), { remote: 'https://h/r.git', checksum: 'abc123', keepGitDir: true, submodules: false });
  // fragment and query together when they agree
  assert.deepEqual(parseGitRef('https://h/r.git?subdir=s#main'), { remote: 'https://h/r.git', ref: 'main', subdir: 's' });
  assert.deepEqual(parseGitRef('https://h/r.git?ref=main#main:s'), { remote: 'https://h/r.git', ref: 'main', subdir: 's' });
  for (const [s, re] of [
    ['https://h/r.git?ref=a#b', /ref conflicts: "b" vs "a"/],
    ['https://h/r.git?subdir=a#m:b', /subdir conflicts/],
    ['https://h/r.git?tag=a&branch=b', /branch conflicts with tag/],
    ['https://h/r.git?ref=a&ref=b', /query "ref" has multiple values/],
    ['https://h/r.git?ref=', /query "ref" has no value/],
    ['https://h/r.git?depth=1', /unexpected query "depth"/],
    ['https://h/r.git?keep-git-dir=maybe', /invalid keep-git-dir value/],
    ['https://h/r.git?checksum=xyz', /not a commit id/],
  ] as const) assert.throws(() => parseGitRef(s), re, s);
  assert.equal(isGitContext('https://h/r.git?ref=main'), true);
});
