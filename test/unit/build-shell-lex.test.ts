/**
 * The word expander against BuildKit's tables (shell/envVarTest, shell/wordsTest) and the
 * pattern forms BuildKit tests as Go literals (${V#p} ${V##p} ${V%p} ${V%%p} ${V/p/r} ${V//p/r}).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ShellLex, envFromList, envFromMap } from '../../src/ops/build/shell-lex.js';
import { conformanceDir } from './build-conformance-data.js';

const trim = (s: string) => s.replace(/^\s+|\s+$/gu, '');

test('BuildKit envVarTest: every A and U line expands (or fails) as listed', () => {
  const text = fs.readFileSync(path.join(conformanceDir('shell'), 'envVarTest'), 'utf8');
  const env = envFromList(['PWD=/home', 'SHELL=bash', 'KOREAN=한국어', 'NULL=']);
  const lex = new ShellLex();
  const failures: string[] = [];
  let n = 0;
  for (const line of text.split('\n')) {
    if (!trim(line) || line.startsWith('#')) continue;
    const parts = line.split('|');
    assert.equal(parts.length, 3, `malformed line ${JSON.stringify(line)}`);
    const [tag, input, expected] = parts.map(trim) as [string, string, string];
    if (tag === 'W') continue; // Windows-only lines
    n++;
    let got: string;
    try {
      got = lex.processWord(input, env);
    } catch {
      got = 'error';
    }
    if (got !== expected) failures.push(`${input} → ${JSON.stringify(got)}, want ${JSON.stringify(expected)}`);
  }
  assert.ok(n > 200, `only ${n} cases read`);
  assert.deepEqual(failures, []);
});

test('BuildKit wordsTest: expansion then word splitting', () => {
  const text = fs.readFileSync(path.join(conformanceDir('shell'), 'wordsTest'), 'utf8');
  const envs: string[] = [];
  const lex = new ShellLex();
  const failures: string[] = [];
  let n = 0;
  for (const line of text.split('\n')) {
    if (!trim(line) || line.startsWith('#')) continue;
    if (line.startsWith('ENV ')) {
      envs.unshift(line.slice(4).replace(/^ +/, '')); // later definitions win
      continue;
    }
    const parts = line.split('|');
    assert.equal(parts.length, 2, `malformed line ${JSON.stringify(line)}`);
    const input = trim(parts[0]!);
    const expected = parts[1]!.replace(/^ +/, '').split(',');
    n++;
    let got: string[];
    try {
      got = lex.processWords(input, envFromList(envs));
    } catch {
      got = ['error'];
    }
    if (JSON.stringify(got) !== JSON.stringify(expected)) failures.push(`${input} → ${JSON.stringify(got)}, want ${JSON.stringify(expected)}`);
  }
  assert.ok(n > 20);
  assert.deepEqual(failures, []);
});

test('pattern forms: # ## % %% / // (the cases BuildKit keeps as Go literals in shell/lex_test.go)', () => {
  const lex = new ShellLex();
  const table: [string, Record<string, string>, string | null][] = [
    ['${FOO#()[]{\\}^$.\\*\\?|\\\\}', { FOO: '()[]{}^$.*?|\\x' }, 'x'],
    ['${FOO%%\\**}', { FOO: 'xx**' }, 'xx'],
    ['${FOO#*x*y}', { FOO: 'xxyy' }, 'y'],
    ['${FOO#*}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO#$BAR}', { FOO: 'xxyy', BAR: 'x' }, 'xyy'],
    ['${FOO#$BAR}', { FOO: 'xxyy', BAR: '' }, 'xxyy'],
    ['${FOO#}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO##*x}', { FOO: 'xxyy' }, 'yy'],
    ['${FOO##}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO#?\\?}', { FOO: '???y' }, '?y'],
    ['${ABC:-.}${FOO%x}${ABC:-.}', { FOO: 'xxyy' }, '.xxyy.'],
    ['${FOO%%\\**\\*}', { FOO: 'a***yy*' }, 'a'],
    ['${FOO%}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO%%$BAR}', { FOO: 'xxyy', BAR: '' }, 'xxyy'],
    ['${FOO:#}', {}, null],
    ['${FOO:##}', {}, null],
    ['${FOO:%}', {}, null],
    ['${FOO:%%}', {}, null],
    ['${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}', { FOO: '/foo*/*/*.txt', NEEDLE: '\\*/' }, '/foo.*/*.txt - /foo..*.txt'],
    ['${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}', { FOO: '/tmp/tmp/bar.txt', NEEDLE: '/tmp' }, '/tmp/bar.txt - /bar.txt'],
    ['${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}', { FOO: '/a/foo/b/c.txt', NEEDLE: '/?/', REPLACEMENT: '/' }, '/foo/b/c.txt - /foo/c.txt'],
    ['${FOO/$NEEDLE/$REPLACEMENT}', { FOO: 'http://google.de', NEEDLE: 'http://', REPLACEMENT: 'https://' }, 'https://google.de'],
    ['${FOO//\\//\\/}', { FOO: '/tmp/foo.txt' }, '\\/tmp\\/foo.txt'],
    ['${FOO/$BAR/ww}', { FOO: 'xxyy', BAR: '' }, 'wwxxyy'],
    ['${FOO//ww}', { FOO: 'xxyy' }, null],
    ['${FOO//}', { FOO: 'xxyy' }, null],
    ['${FOO///}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO///}', {}, ''],
    ['${FOO=aaa}', { FOO: 'xxx' }, null],
    ['${BAZ:?}', { FOO: 'xxx' }, null],
    ['${BAR:?bbb}', { BAR: '' }, null],
    ['${BAR?}', { BAR: '' }, ''],
    ['something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz', { VERSION: 'v1.2.3', TARGETOS: 'linux', TARGETARCH: 'arm', TARGETVARIANT: 'v7' }, 'something-v1.2.3.linux-arm-v7.tar.gz'],
    ['something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz', { VERSION: 'v1.2.3', TARGETOS: 'linux', TARGETARCH: 'arm64', TARGETVARIANT: '' }, 'something-v1.2.3.linux-arm64.tar.gz'],
  ];
  for (const [input, env, want] of table) {
    if (want === null) assert.throws(() => lex.processWord(input, envFromMap(env)), input);
    else assert.equal(lex.processWord(input, envFromMap(env)), want, input);
  }
});

test('skipUnsetEnv leaves unset references as written (used for RUN names and heredocs)', () => {
  const lex = new ShellLex({ skipUnsetEnv: true });
  const env = envFromMap({ A: '1' });
  assert.equal(lex.processWord('$A $B ${B} ${B:-x} ${A:-x}', env), '1 $B ${B} ${B:-x} 1');
});

test('backtick escape token', () => {
  const lex = new ShellLex({ escapeToken: '`' });
  assert.equal(lex.processWord('C:\\dir `$X "a`"b"', envFromMap({})), 'C:\\dir $X a"b');
});
