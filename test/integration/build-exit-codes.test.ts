/**
 * `tsrun build`'s exit codes, as docker's CLI (docker/cli: cli/cobra.go FlagErrorFunc returns
 * StatusError{StatusCode: 125} for errors while its flags are parsed, which include the values
 * of -t, --build-arg and --label: cli/command/image/build.go checks them with validateTag,
 * opts.ValidateEnv, opts.ValidateLabel; cli.ExactArgs(1) and everything the build itself finds
 * are plain errors, exit 1). Each refused command leaves the store exactly as it was.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, importBusybox, snapshotTree, type TempRoot } from '../helpers/cli.js';

let tr: TempRoot;
let ctx: string;
let bad: string;

before(() => {
  tr = tempRoot('tsrun-build-exit-');
  importBusybox(tr.root);
  ctx = path.join(tr.scratch, 'ctx');
  fs.mkdirSync(ctx);
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo SHOULD-NOT-RUN\n');
  bad = path.join(tr.scratch, 'bad');
  fs.mkdirSync(bad);
  fs.writeFileSync(path.join(bad, 'Dockerfile'), 'FROM busybox\nRUN ["sh", "-c"\n');
});
after(() => tr.cleanup());

const DIGEST = 'sha256:' + 'a'.repeat(64);

// [name, args (CTX/BAD: the contexts above), stdin, exit code, the one error line]
const cases: [string, () => string[], string | undefined, number, RegExp][] = [
  // flag errors: 125
  ['an unknown flag', () => ['--frobnicate', ctx], undefined, 125, /^tsrun: unknown option '--frobnicate'/],
  ['a flag without its value', () => [ctx, '-t'], undefined, 125, /^tsrun: option '-t, --tag <name>' argument missing/],
  ['-t that is no reference', () => ['-t', 'Bad:Tag:x', ctx], undefined, 125, /^tsrun: invalid argument "Bad:Tag:x" for "-t, --tag" flag: invalid reference format/],
  ['-t with a digest and no tag', () => ['-t', `busybox@${DIGEST}`, ctx], undefined, 125, /^tsrun: invalid argument "busybox@sha256:a+" for "-t, --tag" flag: a digest reference/],
  ['--build-arg without a name', () => ['--build-arg', '=x', ctx], undefined, 125, /^tsrun: invalid argument "=x" for "--build-arg" flag: the name is empty/],
  ['--label without a name', () => ['--label', ' =x', ctx], undefined, 125, /^tsrun: invalid argument " =x" for "--label" flag: the name is empty/],
  ['--label with a blank in its name', () => ['--label', 'a b=c', ctx], undefined, 125, /^tsrun: invalid argument "a b=c" for "--label" flag: the name contains whitespace/],
  // everything else: 1
  ['no context', () => [], undefined, 1, /^tsrun: 'tsrun build' requires 1 argument$/],
  ['two contexts', () => [ctx, ctx], undefined, 1, /^tsrun: 'tsrun build' requires 1 argument$/],
  ['a context that does not exist', () => [path.join(tr.scratch, 'nowhere')], undefined, 1, /^tsrun: unable to prepare context: path ".*nowhere" not found/],
  ['--network that is no mode', () => ['--network', 'bridge0', ctx], undefined, 1, /^tsrun: invalid --network "bridge0"/],
  ['--progress that is no mode', () => ['--progress', 'fancy', ctx], undefined, 1, /^tsrun: invalid --progress "fancy"/],
  ['stdin for both', () => ['-f', '-', '-'], 'FROM busybox\n', 1, /^tsrun: invalid argument: can't use stdin for both build context and dockerfile/],
  ['a Dockerfile that does not parse', () => [bad], undefined, 1, /^tsrun: Dockerfile:2: /],
];

for (const [name, args, input, code, msg] of cases) {
  test(`build: ${name} exits ${code}`, () => {
    const before = snapshotTree(tr.root);
    const r = tsrun(tr.root, ['build', ...args()], { input });
    assert.equal(r.code, code, r.stderr);
    assert.doesNotMatch(r.stderr, /SHOULD-NOT-RUN/);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('tsrun:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, msg);
    assert.deepEqual(snapshotTree(tr.root), before);
  });
}
