/**
 * The Dockerfile parser against BuildKit's own parser cases (parser/testfiles: Dockerfile →
 * AST dump; testfiles-negative: must fail; testfile-line: line ranges), plus heredoc and
 * bad-input cases of our own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseDockerfile } from '../../src/ops/build/parser.js';
import { dumpDockerfile } from '../../src/ops/build/ast.js';
import { TsrunError } from '../../src/util/errors.js';
import { conformanceDir } from './build-conformance-data.js';

test('BuildKit parser cases: every testfiles/<case> dumps to its result', () => {
  const dir = path.join(conformanceDir('parser'), 'testfiles');
  const cases = fs.readdirSync(dir).sort();
  assert.ok(cases.length >= 30, `expected BuildKit's parser cases in ${dir}`);
  const failures: string[] = [];
  for (const c of cases) {
    const text = fs.readFileSync(path.join(dir, c, 'Dockerfile'), 'utf8');
    const want = fs.readFileSync(path.join(dir, c, 'result'), 'utf8');
    let got: string;
    try {
      got = dumpDockerfile(parseDockerfile(text, `${c}/Dockerfile`)) + '\n';
    } catch (e) {
      failures.push(`${c}: threw ${(e as Error).message}`);
      continue;
    }
    if (got !== want) failures.push(`${c}:\n--- want\n${want}--- got\n${got}`);
  }
  assert.deepEqual(failures, []);
});

test('BuildKit negative parser cases all fail with a DOCKERFILE error', () => {
  const dir = path.join(conformanceDir('parser'), 'testfiles-negative');
  const cases = fs.readdirSync(dir).sort();
  assert.equal(cases.length, 4);
  for (const c of cases) {
    const text = fs.readFileSync(path.join(dir, c, 'Dockerfile'), 'utf8');
    assert.throws(
      () => parseDockerfile(text, 'Dockerfile'),
      (e: unknown) => e instanceof TsrunError && e.code === 'DOCKERFILE' && /^Dockerfile(:\d+)?: /.test(e.message) && !e.message.includes('\n'),
      c,
    );
  }
});

test('BuildKit testfile-line: instructions span lines 5-5, 11-12, 17-31', () => {
  const text = fs.readFileSync(path.join(conformanceDir('parser'), 'testfile-line', 'Dockerfile'), 'utf8');
  const df = parseDockerfile(text);
  assert.deepEqual(
    df.instructions.map((n) => [n.startLine, n.endLine]),
    [
      [5, 5],
      [11, 12],
      [17, 31],
    ],
  );
});
