/**
 * .dockerignore reading and matching against moby/patternmatcher's own cases
 * (dockerignore/pattern-cases.jsonl, ignorefile-readall.json), plus the file lookup rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { matchesOrParentMatches, PatternMatcher } from '../../src/ops/build/pattern-matcher.js';
import { loadIgnoreRules, readIgnoreLines } from '../../src/ops/build/dockerignore.js';
import { TsrunError } from '../../src/util/errors.js';
import { conformanceDir } from './build-conformance-data.js';

interface Case {
  patterns: string[];
  path: string;
  excluded: boolean;
  api: string;
  error?: boolean;
  source: string;
}

test('patternmatcher cases: all 137 decide as moby does', () => {
  const text = fs.readFileSync(path.join(conformanceDir('dockerignore'), 'pattern-cases.jsonl'), 'utf8');
  const cases = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Case);
  assert.equal(cases.length, 137);
  const failures: string[] = [];
  for (const c of cases) {
    const label = `${JSON.stringify(c.patterns)} ${JSON.stringify(c.path)} (${c.source})`;
    let got: boolean | 'error';
    try {
      // the method form takes the path as the walker gives it; the package functions clean it first
      got = c.api === 'MatchesOrParentMatches' ? new PatternMatcher(c.patterns).excludes(c.path) : matchesOrParentMatches(c.path, c.patterns);
    } catch {
      got = 'error';
    }
    const want = c.error ? 'error' : c.excluded;
    if (got !== want) failures.push(`${label}: got ${got}, want ${want}`);
  }
  assert.deepEqual(failures, []);
});

test('ignorefile ReadAll: comments, trimming, leading / and ! handled as moby', () => {
  const c = JSON.parse(fs.readFileSync(path.join(conformanceDir('dockerignore'), 'ignorefile-readall.json'), 'utf8')) as {
    input: string;
    expected_patterns: string[];
  };
  assert.deepEqual(readIgnoreLines(c.input), c.expected_patterns);
  // a bare "!" survives reading and is refused by the matcher
  assert.throws(() => new PatternMatcher(readIgnoreLines(c.input)));
  assert.deepEqual(readIgnoreLines('\ufeffa\n #not a comment\n./b/\n'), ['a', '#not a comment', 'b']);
});

test('<Dockerfile>.dockerignore wins over the context .dockerignore', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-ignore-'));
  try {
    fs.writeFileSync(path.join(dir, '.dockerignore'), 'from-context\n');
    fs.mkdirSync(path.join(dir, 'df'));
    const dockerfile = path.join(dir, 'df', 'app.Dockerfile');
    fs.writeFileSync(dockerfile, 'FROM scratch\n');
    assert.equal(loadIgnoreRules(dir, dockerfile).matcher.excludes('from-context'), true);
    fs.writeFileSync(dockerfile + '.dockerignore', 'from-dockerfile\n');
    const rules = loadIgnoreRules(dir, dockerfile);
    assert.equal(rules.file, dockerfile + '.dockerignore');
    assert.equal(rules.matcher.excludes('from-dockerfile/x'), true);
    assert.equal(rules.matcher.excludes('from-context'), false);
    // no file at all: nothing excluded
    fs.rmSync(path.join(dir, '.dockerignore'));
    assert.equal(loadIgnoreRules(dir).matcher.excludes('anything'), false);
    // a bad pattern is a one-line DOCKERFILE error naming the file
    fs.writeFileSync(path.join(dir, '.dockerignore'), 'ok\n[\n');
    assert.throws(
      () => loadIgnoreRules(dir),
      (e: unknown) => e instanceof TsrunError && e.code === 'DOCKERFILE' && e.message.startsWith(path.join(dir, '.dockerignore')),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an exception re-includes a file inside an excluded directory', () => {
  const pm = new PatternMatcher(readIgnoreLines('docs\n!docs/README.md\n**/*.log\n'));
  assert.equal(pm.hasExclusions, true);
  assert.equal(pm.excludes('docs/other.md'), true);
  assert.equal(pm.excludes('docs/README.md'), false);
  assert.equal(pm.excludes('a/b/c.log'), true);
  assert.equal(pm.excludes('c.log'), true);
  assert.equal(pm.excludes('src/main.ts'), false);
});
