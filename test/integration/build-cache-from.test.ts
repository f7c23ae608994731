/**
 * `RUN --mount=type=cache,from=STAGE|IMAGE,source=PATH`: the cache starts as a copy of that
 * path (owners kept), is kept between steps and builds like any cache mount, leaves the source
 * stage as it was, and a changed source stage gets a cache of its own. Bad sources fail at
 * file:line with the store as it was.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, tsrunOk, importBusybox, snapshotTree, mountsUnder, type TempRoot } from '../helpers/cli.js';

let tr: TempRoot;

function context(name: string, dockerfile: string): string {
  const dir = path.join(tr.scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

function build(args: string[]): string {
  const iid = path.join(tr.scratch, 'iid');
  fs.rmSync(iid, { force: true });
  const r = tsrun(tr.root, ['build', '--network', 'none', '--progress', 'plain', '--iidfile', iid, ...args]);
  assert.equal(r.code, 0, `build failed: ${r.stderr}`);
  return fs.readFileSync(iid, 'utf8');
}

const inImage = (ref: string, script: string) => tsrunOk(tr.root, ['run', '--rm', '--network', 'none', ref, 'sh', '-c', script]);

before(() => {
  tr = tempRoot('tsrun-buildcachefrom-');
  importBusybox(tr.root);
});
after(() => tr.cleanup());

describe('build: RUN --mount=type=cache,from=', () => {
  const dockerfile = [
    'FROM busybox AS deps',
    'ARG SEED=one',
    'RUN mkdir -p /seed/sub && echo "$SEED" > /seed/sub/f && chown 5:6 /seed/sub/f && chmod 0750 /seed',
    'FROM busybox',
    'RUN --mount=type=cache,from=deps,source=/seed,target=/c,sharing=locked,uid=1000 cat /c/sub/f > /got && stat -c "%u %g %a" /c/sub/f /c >> /got && echo more >> /c/sub/f',
    'RUN --mount=type=cache,from=deps,source=/seed,target=/c cat /c/sub/f > /got2',
    'RUN --mount=type=cache,from=busybox,source=/etc,target=/etc-cache,sharing=private grep -c ^root: /etc-cache/passwd > /img',
    'COPY --from=deps /seed/sub/f /deps-f',
  ].join('\n');

  test('seeded from the stage, kept between steps and builds; the stage itself unchanged', () => {
    const dir = context('seed', dockerfile);
    const id = build([dir]);
    assert.equal(inImage(id, 'cat /got /got2 /img /deps-f'), 'one\n5 6 644\n0 0 750\none\nmore\n1\none\n');
    // a rebuild that runs the steps again sees what the cache holds now
    const again = build(['--no-cache', dir]);
    assert.equal(inImage(again, 'cat /got'), 'one\nmore\n5 6 644\n0 0 750\n');
    // another source stage: a cache of its own, seeded from it
    const other = build(['--build-arg', 'SEED=two', dir]);
    assert.equal(inImage(other, 'cat /got /deps-f'), 'two\n5 6 644\n0 0 750\ntwo\n');
  });

  test('a missing or non-directory source: file:line, the store as it was', () => {
    const missing = context('missing', 'FROM busybox AS deps\nFROM busybox\n\nRUN --mount=type=cache,from=deps,source=/nope,target=/c true\n');
    const file = context('file', 'FROM busybox AS deps\nFROM busybox\nRUN --mount=type=cache,from=deps,source=/etc/passwd,target=/c true\n');
    const before = snapshotTree(tr.root);
    const r1 = tsrun(tr.root, ['build', '--network', 'none', missing]);
    assert.equal(r1.code, 1, r1.stderr);
    assert.match(r1.stderr, /^tsrun: Dockerfile:4: failed to mount \/nope: no such file or directory in the source stage/m);
    const r2 = tsrun(tr.root, ['build', '--network', 'none', file]);
    assert.match(r2.stderr, /^tsrun: Dockerfile:3: cache mount source \/etc\/passwd is not a directory/m);
    assert.deepEqual(snapshotTree(tr.root), before);
    assert.deepEqual(mountsUnder(tr.root), []);
  });
});
