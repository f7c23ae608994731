/**
 * Heredocs: BuildKit's parser_heredoc_test.go cases (kept there as Go literals, so
 * transcribed here), and how RUN / COPY use them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile } from '../../src/ops/build/parser.js';
import { chompHeredoc, heredocsInLine, parseHeredocWord } from '../../src/ops/build/heredoc.js';

test('BuildKit TestParseExtractsHeredoc: names, bodies, fd, chomp, expand', () => {
  const text = `
FROM alpine:3.6

ENV NAME=me

RUN ls

USER <<INVALID
INVALID

RUN <<EMPTY
EMPTY

RUN 3<<EMPTY2
EMPTY2

RUN "<<NOHEREDOC"

RUN <<INDENT
\tfoo
\tbar
INDENT

RUN <<-UNINDENT
\tbaz
\tquux
UNINDENT

RUN <<-UNINDENT2
\tbaz
\tquux
\tUNINDENT2

RUN <<-EXPAND
\texpand $NAME
EXPAND

RUN <<-'NOEXPAND'
\tdon't expand $NAME
NOEXPAND

RUN <<COPY
echo hello world
echo foo bar
COPY

RUN <<COMMENT
# internal comment
echo hello world
echo foo bar # trailing comment
COMMENT

RUN --mount=type=cache,target=/foo <<MOUNT
echo hello
MOUNT

COPY <<FILE1 <<FILE2 /dest
content 1
FILE1
content 2
FILE2

COPY <<X <<Y /dest
Y
X
X
Y
\t`;
  const H = (name: string, content: string, o: { expand?: boolean; chomp?: boolean; fd?: number } = {}) => ({
    name,
    content,
    expand: o.expand ?? true,
    chomp: o.chomp ?? false,
    fileDescriptor: o.fd ?? 0,
  });
  const want = [
    [], // ENV
    [], // RUN ls
    [], // USER <<INVALID
    [], // INVALID
    [H('EMPTY', '')],
    [H('EMPTY2', '', { fd: 3 })],
    [], // RUN "<<NOHEREDOC"
    [H('INDENT', '\tfoo\n\tbar\n')],
    [H('UNINDENT', '\tbaz\n\tquux\n', { chomp: true })],
    [H('UNINDENT2', '\tbaz\n\tquux\n', { chomp: true })],
    [H('EXPAND', '\texpand $NAME\n', { chomp: true })],
    [H('NOEXPAND', "\tdon't expand $NAME\n", { chomp: true, expand: false })],
    [H('COPY', 'echo hello world\necho foo bar\n')],
    [H('COMMENT', '# internal comment\necho hello world\necho foo bar # trailing comment\n')],
    [H('MOUNT', 'echo hello\n')],
    [H('FILE1', 'content 1\n'), H('FILE2', 'content 2\n')],
    [H('X', 'Y\n'), H('Y', 'X\n')],
  ];
  const df = parseDockerfile(text);
  assert.equal(df.instructions.length, want.length + 1);
  want.forEach((w, i) => assert.deepEqual(df.instructions[i + 1]!.heredocs, w, df.instructions[i + 1]!.original));
});

test('BuildKit TestParseJSONHeredoc: exec form never opens a heredoc', () => {
  const df = parseDockerfile('FROM alpine\nRUN ["whoami"]\nRUN ["<<EOF"]\nRUN ["<<\'EOF\'"]\n');
  for (const n of df.instructions.slice(1)) assert.deepEqual(n.heredocs, []);
});

test('BuildKit TestParseHeredocHelpers and TestHeredocsFromLine', () => {
  for (const s of ['<<EOF', "<<'EOF'", '<<"EOF"', '<<-EOF', "<<-'EOF'", '<<-"EOF"']) assert.equal(parseHeredocWord(s)?.name, 'EOF', s);
  for (const s of ["<<'EOF", '<<"EOF', "<<EOF'", '<<EOF"']) assert.throws(() => parseHeredocWord(s), s);
  for (const s of ['', 'EOF', '<<', '<<-', '<EOF', '<<<EOF']) assert.equal(parseHeredocWord(s), null, s);
  const names = (line: string) => heredocsInLine(line).map((h) => h.name);
  assert.deepEqual(names('RUN <<EOF'), ['EOF']);
  assert.deepEqual(names('RUN <<-EOF'), ['EOF']);
  assert.deepEqual(names("RUN <<'EOF'"), ['EOF']);
  assert.deepEqual(names('RUN 4<<EOF'), ['EOF']);
  assert.deepEqual(names('RUN <<EOF <<EOF2'), ['EOF', 'EOF2']);
  assert.deepEqual(names("RUN '<<EOF'"), []);
  assert.deepEqual(names('RUN "<<EOF"'), []);
  assert.equal(chompHeredoc('\thello\n\tworld\n'), 'hello\nworld\n');
});

test('heredoc line ranges cover the body; the next instruction starts after the terminator', () => {
  const df = parseDockerfile('FROM a\nRUN <<EOF\necho 1\necho 2\nEOF\nRUN true\n');
  assert.deepEqual(
    df.instructions.map((n) => [n.startLine, n.endLine]),
    [
      [1, 1],
      [2, 5],
      [6, 6],
    ],
  );
});
