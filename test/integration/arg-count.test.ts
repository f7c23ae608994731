/**
 * A wrong number of arguments, against docker 28's CLI: the same phrase for
 * every command (cobra's Args checks in docker/cli: NoArgs, RequiresMinArgs,
 * RequiresMaxArgs, RequiresRangeArgs, ExactArgs), exit 1 (a plain error, not
 * a flag error's 125), the usage, and where to look. The table is what
 * `docker CMD` and `docker CMD a b c d e f` print with docker 28.2.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tempRoot, tsrun, type TempRoot } from '../helpers/cli.js';

let t: TempRoot;
before(() => {
  t = tempRoot('tsrun-argcount-');
});
after(() => t.cleanup());

/** command, docker's phrase with no arguments, with six (undefined: docker takes that many) */
const DOCKER: [string, string | undefined, string | undefined][] = [
  ['rm', 'requires at least 1 argument', undefined],
  ['run', 'requires at least 1 argument', undefined],
  ['create', 'requires at least 1 argument', undefined],
  ['start', 'requires at least 1 argument', undefined],
  ['stop', 'requires at least 1 argument', undefined],
  ['kill', 'requires at least 1 argument', undefined],
  ['restart', 'requires at least 1 argument', undefined],
  ['update', 'requires at least 1 argument', undefined],
  ['wait', 'requires at least 1 argument', undefined],
  ['pause', 'requires at least 1 argument', undefined],
  ['unpause', 'requires at least 1 argument', undefined],
  ['inspect', 'requires at least 1 argument', undefined],
  ['top', 'requires at least 1 argument', undefined],
  ['save', 'requires at least 1 argument', undefined],
  ['rmi', 'requires at least 1 argument', undefined],
  ['exec', 'requires at least 2 arguments', undefined],
  ['tag', 'requires 2 arguments', 'requires 2 arguments'],
  ['rename', 'requires 2 arguments', 'requires 2 arguments'],
  ['cp', 'requires 2 arguments', 'requires 2 arguments'],
  ['logs', 'requires 1 argument', 'requires 1 argument'],
  ['diff', 'requires 1 argument', 'requires 1 argument'],
  ['pull', 'requires 1 argument', 'requires 1 argument'],
  ['push', 'requires 1 argument', 'requires 1 argument'],
  ['history', 'requires 1 argument', 'requires 1 argument'],
  ['export', 'requires 1 argument', 'requires 1 argument'],
  ['attach', 'requires 1 argument', 'requires 1 argument'],
  ['build', 'requires 1 argument', 'requires 1 argument'],
  ['commit', 'requires at least 1 and at most 2 arguments', 'requires at least 1 and at most 2 arguments'],
  ['port', 'requires at least 1 and at most 2 arguments', 'requires at least 1 and at most 2 arguments'],
  ['ps', undefined, 'accepts no arguments'],
  ['load', undefined, 'accepts no arguments'],
  ['info', undefined, 'accepts no arguments'],
  ['version', undefined, 'accepts no arguments'],
  ['images', undefined, 'requires at most 1 argument'],
  ['login', undefined, 'requires at most 1 argument'],
  ['logout', undefined, 'requires at most 1 argument'],
  ['network create', 'requires 1 argument', 'requires 1 argument'],
  ['network rm', 'requires at least 1 argument', undefined],
  ['network inspect', 'requires at least 1 argument', undefined],
  ['network connect', 'requires 2 arguments', 'requires 2 arguments'],
  ['network disconnect', 'requires 2 arguments', 'requires 2 arguments'],
  ['network ls', undefined, 'accepts no arguments'],
  ['network prune', undefined, 'accepts no arguments'],
  ['volume create', undefined, 'requires at most 1 argument'],
  ['volume rm', 'requires at least 1 argument', undefined],
  ['volume inspect', 'requires at least 1 argument', undefined],
  ['volume ls', undefined, 'accepts no arguments'],
  ['volume prune', undefined, 'accepts no arguments'],
  ['image ls', undefined, 'requires at most 1 argument'],
  ['image rm', 'requires at least 1 argument', undefined],
  ['image inspect', 'requires at least 1 argument', undefined],
  ['image tag', 'requires 2 arguments', 'requires 2 arguments'],
  ['image prune', undefined, 'accepts no arguments'],
  ['system df', undefined, 'accepts no arguments'],
  ['system prune', undefined, 'accepts no arguments'],
  ['system info', undefined, 'accepts no arguments'],
  ['builder prune', undefined, 'accepts no arguments'],
  ['container rm', 'requires at least 1 argument', undefined],
  ['container prune', undefined, 'accepts no arguments'],
];

for (const [command, none, six] of DOCKER) {
  for (const [args, phrase] of [
    [[], none],
    [['a', 'b', 'c', 'd', 'e', 'f'], six],
  ] as const) {
    if (!phrase) continue;
    test(`${command} with ${args.length} arguments: '${phrase}', exit 1`, () => {
      const r = tsrun(t.root, [...command.split(' '), ...args], { input: '' });
      const path = `tsrun ${command}`;
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^tsrun: '${path}' ${phrase}\\n\\nUsage:  ${path} .*\\n\\nSee '${path} --help' for more information\\n$`));
    });
  }
}

test('the usage line is docker-shaped: [OPTIONS] only where there are options, variadic arguments as X [X...]', () => {
  assert.match(tsrun(t.root, ['rm']).stderr, /\nUsage: {2}tsrun rm \[OPTIONS\] CONTAINER \[CONTAINER\.\.\.\]\n/);
  assert.match(tsrun(t.root, ['wait']).stderr, /\nUsage: {2}tsrun wait CONTAINER \[CONTAINER\.\.\.\]\n/);
  assert.match(tsrun(t.root, ['start']).stderr, /\nUsage: {2}tsrun start \[OPTIONS\] CONTAINER \[CONTAINER\.\.\.\]\n/);
});

test('a flag error is still 125; an unknown subcommand is 1, as docker', () => {
  const bad = tsrun(t.root, ['rm', '--bogus', 'x']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /unknown option '--bogus'/);
  const sub = tsrun(t.root, ['image', 'bogus']);
  assert.equal(sub.code, 1);
  assert.match(sub.stderr, /^tsrun: unknown command: tsrun image bogus\n/);
  const top = tsrun(t.root, ['bogus']);
  assert.equal(top.code, 1);
  assert.match(top.stderr, /^tsrun: unknown command: tsrun bogus/);
});

test('a group alone prints its usage to stdout, exit 0, as docker', () => {
  for (const group of ['image', 'network', 'volume', 'container', 'system']) {
    const r = tsrun(t.root, [group]);
    assert.equal(r.code, 0, `${group}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: tsrun ${group} `), group);
  }
});
