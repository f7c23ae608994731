/**
 * Bad Dockerfiles: each is refused with one DOCKERFILE error line that starts with file:line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeDockerfile } from '../../src/ops/build/frontend.js';
import { planStage } from '../../src/ops/build/stage-plan.js';
import { TsrunError } from '../../src/util/errors.js';

const amd64 = { os: 'linux', architecture: 'amd64' };

function analyze(text: string, target?: string) {
  return analyzeDockerfile(text, { file: 'app/Dockerfile', targetPlatform: amd64, buildPlatform: amd64, target });
}

/** Parse, resolve the graph and plan every stage (with an empty base config). */
function full(text: string, target?: string) {
  const fe = analyze(text, target);
  for (const s of fe.parsed.stages) {
    planStage(s, { globalArgs: fe.globalArgs, buildArgs: new Map(), target: amd64, build: amd64, base: {}, escapeToken: fe.parsed.escapeToken });
  }
  return fe;
}

function refuses(text: string, line: number, pattern: RegExp, target?: string) {
  assert.throws(
    () => full(text, target),
    (e: unknown) => {
      assert.ok(e instanceof TsrunError, `not a TsrunError: ${e}`);
      assert.equal(e.code, 'DOCKERFILE');
      assert.ok(!e.message.includes('\n'), `more than one line: ${JSON.stringify(e.message)}`);
      const prefix = line ? `app/Dockerfile:${line}: ` : 'app/Dockerfile: ';
      assert.ok(e.message.startsWith(prefix), `${JSON.stringify(e.message)} does not start with ${prefix}`);
      assert.match(e.message, pattern);
      assert.ok(e.hint, 'an error says what to do');
      return true;
    },
    text,
  );
}

test('unknown instruction', () => refuses('FROM a\n\nFOO bar\n', 3, /unknown instruction: FOO/));
test('unknown flag, with the flags the instruction takes', () => refuses('FROM a\nCOPY --frm=b x /y\n', 2, /unknown flag: --frm/));
test('a flag on an instruction that takes none', () => refuses('FROM a\nUSER --x=1 bob\n', 2, /unknown flag: --x/));
test('a string flag without a value', () => refuses('FROM a\nCOPY --chown x /y\n', 2, /missing a value on flag: --chown/));
test('a boolean flag with a bad value', () => refuses('FROM a\nCOPY --link=maybe x /y\n', 2, /expecting boolean value for flag --link/));
test('a flag given twice', () => refuses('FROM a\nCOPY --from=a --from=b x /y\n', 2, /duplicate flag specified: --from/));
test('unterminated heredoc names the line that opened it', () => refuses('FROM a\nRUN <<EOF\necho hi\n', 2, /unterminated heredoc/));
test('unterminated JSON array', () => refuses('FROM a\nCMD ["echo", "hi"\n', 2, /not valid JSON/));
test('JSON with single quotes', () => refuses("FROM a\nENTRYPOINT ['sh']\n", 2, /not valid JSON/));
test('nested JSON', () => refuses('FROM a\nCMD ["a", ["b"]]\n', 2, /strings only/));
test('ENV without a value', () => refuses('FROM a\nENV PATH\n', 2, /ENV must have two arguments/));
test('an instruction before the first FROM', () => refuses('RUN true\nFROM a\n', 1, /no build stage/));
test('an empty Dockerfile', () => refuses('# nothing\n\n', 0, /no instructions/));
test('--target that names no stage', () => refuses('FROM a AS one\nFROM b AS two\n', 0, /target stage "three" could not be found/, 'three'));
test('COPY --from an index past the last stage', () => refuses('FROM a\nCOPY --from=3 /x /y\n', 2, /invalid stage index 3/));
test('a stage that copies from itself', () => refuses('FROM a AS me\nCOPY --from=me /x /y\n', 1, /circular dependency detected on stage: me/));
test('FROM with two words', () => refuses('FROM a b\n', 1, /FROM requires either one or three arguments/));
test('a bad stage name', () => refuses('FROM a AS 1st\n', 1, /invalid name for build stage/));
test('SHELL in shell form', () => refuses('FROM a\nSHELL /bin/bash -c\n', 2, /JSON form/));
test('ONBUILD ONBUILD', () => refuses('FROM a\nONBUILD ONBUILD RUN x\n', 2, /Chaining ONBUILD/));
test('HEALTHCHECK with a bad duration', () => refuses('FROM a\nHEALTHCHECK --interval=5x CMD true\n', 2, /invalid duration|unknown unit/));
test('HEALTHCHECK of an unknown type', () => refuses('FROM a\nHEALTHCHECK CONNECT x\n', 2, /Unknown type "CONNECT"/));
test('RUN --mount of an unknown type', () => refuses('FROM a\nRUN --mount=type=nfs,target=/x true\n', 2, /unsupported mount type "nfs"/));
test('RUN --network of an unknown mode', () => refuses('FROM a\nRUN --network=bridge true\n', 2, /unsupported network mode/));
test('COPY --chmod that is not octal', () => refuses('FROM a\nCOPY --chmod=u+x a /b\n', 2, /invalid chmod parameter/));
test('EXPOSE of a bad port', () => refuses('FROM a\nEXPOSE 80/http\n', 2, /invalid proto/));
test('STOPSIGNAL of an unknown signal', () => refuses('FROM a\nSTOPSIGNAL SIGBOGUS\n', 2, /Invalid signal/));
test('a bad variable expansion', () => refuses('FROM a\nENV A=${B:?must_be_set}\n', 2, /B: must_be_set/));
test('a bad directive', () => refuses('# escape=x\nFROM a\n', 1, /invalid escape token/));
test('a repeated directive', () => refuses('# syntax=a\n# syntax=b\nFROM a\n', 2, /only one syntax parser directive/));
test('COPY with one argument', () => refuses('FROM a\nCOPY onlyone\n', 2, /requires at least two arguments/));
test('COPY of a URL', () => refuses('FROM a\nCOPY https://example.com/x /y\n', 2, /can't be a URL for COPY/));
test('the line of an error is the first line of a continued instruction', () => refuses('FROM a\nRUN echo \\\n  one \\\n  two\nCOPY \\\n  --bad=1 a b\n', 5, /unknown flag: --bad/));
