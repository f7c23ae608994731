/** COPY source selection and its checksum: what is selected, where it lands, what changes the key. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selectCopy, selectionChecksum, type CopyRoot } from '../../src/ops/build/copy-select.js';
import { BuildCache } from '../../src/ops/build/build-cache.js';
import { PatternMatcher } from '../../src/ops/build/pattern-matcher.js';
import type { Ctx } from '../../src/context.js';

function setup() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-copysel-'));
  const dir = path.join(base, 'ctx');
  for (const [f, d] of Object.entries({ 'a.txt': 'a', 'd/b.txt': 'b', 'd/e/c.log': 'c', 'x.log': 'x' })) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), d);
  }
  const root: CopyRoot = { dir, context: true, ignore: new PatternMatcher(['**/*.log']) };
  const cache = new BuildCache({ root: path.join(base, 'root') } as Ctx);
  return { base, dir, root, cache };
}

const W = { file: 'Dockerfile', line: 3 };

test('targets: a file to a file, files into a dir, the contents of a directory, globs; ignored files left out', () => {
  const { base, root } = setup();
  try {
    assert.deepEqual(selectCopy(root, ['a.txt'], '/b', W).map((s) => s.target), ['/b']);
    assert.deepEqual(selectCopy(root, ['a.txt', 'd/b.txt'], '/t/', W).map((s) => s.target), ['/t/a.txt', '/t/b.txt']);
    assert.deepEqual(selectCopy(root, ['d'], '/t/', W).map((s) => s.target), ['/t', '/t/b.txt', '/t/e']);
    assert.deepEqual(selectCopy(root, ['*.txt'], '/g/', W).map((s) => s.target), ['/g/a.txt']);
    assert.throws(() => selectCopy(root, ['x.log'], '/x', W), /^TsrunError: Dockerfile:3: COPY x.log: "\/x.log" is excluded by \.dockerignore/);
    assert.throws(() => selectCopy(root, ['../a'], '/x', W), /Dockerfile:3: COPY \.\.\/a: forbidden path outside the build context/);
    assert.throws(() => selectCopy(root, ['a.txt', 'd'], '/nodir', W), /Dockerfile:3: When using COPY with more than one source file/);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('checksum: mtimes do not count; a byte, a mode or a name does; unchanged files come from the stat cache', () => {
  const { base, dir, root, cache } = setup();
  try {
    const sum = () => selectionChecksum(selectCopy(root, ['.'], '/app/', W), cache);
    const first = sum();
    const later = new Date(Date.now() + 10_000);
    fs.utimesSync(path.join(dir, 'a.txt'), later, later);
    assert.equal(sum(), first);
    fs.writeFileSync(path.join(dir, 'x.log'), 'ignored files do not count');
    assert.equal(sum(), first);
    fs.writeFileSync(path.join(dir, 'a.txt'), 'A');
    const byte = sum();
    assert.notEqual(byte, first);
    fs.chmodSync(path.join(dir, 'a.txt'), 0o600);
    assert.notEqual(sum(), byte);
    // the stat cache: a file whose stat is unchanged is not read (replace its cached sum to see it used)
    cache.flushSums();
    const file = path.join(base, 'root', 'build-cache', 'filesums.json');
    const sums = JSON.parse(fs.readFileSync(file, 'utf8'));
    sums[path.join(dir, 'd/b.txt')].sum = 'forged';
    fs.writeFileSync(file, JSON.stringify(sums));
    const fresh = new BuildCache({ root: path.join(base, 'root') } as Ctx);
    const st = fs.lstatSync(path.join(dir, 'd/b.txt'), { bigint: true });
    assert.equal(fresh.fileSum(path.join(dir, 'd/b.txt'), st), 'forged');
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
