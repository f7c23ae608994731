/**
 * Bind propagation carried out, as docker with runc: `-v SRC:DST:rslave` and
 * `:rshared` (and --mount bind-propagation=…) keep the bind linked to the
 * host's mount, so a mount made on the host below SRC after the start shows
 * inside (and, rshared, one made inside shows on the host); `private` and the
 * default rprivate do not. docker's checks: a shared bind needs a shared
 * source mount, a slave one a shared or slave mount, at run and at start.
 * The source is a tmpfs this test mounts and makes shared (this VM's / is
 * private); everything is unmounted when the root goes (cleanupDir).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tsrun, tsrunOk, useBusyboxRoot, snapshotTree, mountsUnder } from '../helpers/cli.js';

// registered before the root's cleanup: after hooks run in order, and this needs the store
after(() => {
  if (names.length) tsrun(root().root, ['rm', '-f', ...names]);
});

const root = useBusyboxRoot();
const names: string[] = [];
let src = '';

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

before(() => {
  src = path.join(root().scratch, 'shared-src');
  fs.mkdirSync(src);
  sh('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tsrun-test', src]);
  sh('mount', ['--make-shared', src]);
});

function start(name: string, mount: string[], extra: string[] = []): void {
  names.push(name);
  tsrunOk(root().root, ['run', '-d', '--network', 'none', '--name', name, ...extra, ...mount, 'busybox', 'sleep', '300']);
}

const inside = (name: string, cmd: string) => tsrun(root().root, ['exec', name, 'sh', '-c', cmd]);
const propagation = (name: string) => tsrunOk(root().root, ['inspect', '-f', '{{range .Mounts}}{{.Propagation}}{{end}}', name]).trim();

/** A tmpfs mounted on the host below the shared source, with a file in it, after the containers started. */
function hostMountBelow(sub: string): void {
  const dir = path.join(src, sub);
  fs.mkdirSync(dir);
  sh('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tsrun-test', dir]);
  fs.writeFileSync(path.join(dir, 'f'), `from the host ${sub}\n`);
}

test('rslave and rshared binds see a mount made on the host after the start; private and the default rprivate do not; inspect shows each', () => {
  start('slave', ['-v', `${src}:/mnt:rslave`]);
  start('mslave', ['--mount', `type=bind,source=${src},target=/mnt,bind-propagation=rslave`]);
  start('shared', ['-v', `${src}:/mnt:rshared`], ['--privileged']);
  start('private', ['-v', `${src}:/mnt:private`]);
  start('default', ['-v', `${src}:/mnt`]);
  hostMountBelow('one');
  for (const n of ['slave', 'mslave', 'shared']) {
    const r = inside(n, 'cat /mnt/one/f');
    assert.equal(r.stdout, 'from the host one\n', `${n}: ${r.stderr}`);
  }
  for (const n of ['private', 'default']) {
    const r = inside(n, 'cat /mnt/one/f; grep -c " /mnt/one " /proc/self/mountinfo');
    assert.equal(r.stdout.trim(), '0', `${n} sees the host's mount`);
  }
  assert.equal(propagation('slave'), 'rslave');
  assert.equal(propagation('mslave'), 'rslave');
  assert.equal(propagation('shared'), 'rshared');
  assert.equal(propagation('private'), 'private');
  assert.equal(propagation('default'), 'rprivate');
});

test('rshared: a mount made inside the container shows on the host; rslave: it does not', () => {
  start('shared2', ['-v', `${src}:/mnt:rshared`], ['--privileged']);
  start('slave2', ['-v', `${src}:/mnt:rslave`], ['--privileged']);
  let r = inside('shared2', 'mkdir -p /mnt/inner && mount -t tmpfs none /mnt/inner && echo from-inside > /mnt/inner/g');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(path.join(src, 'inner', 'g'), 'utf8'), 'from-inside\n');
  r = inside('slave2', 'mkdir -p /mnt/inner2 && mount -t tmpfs none /mnt/inner2 && echo x > /mnt/inner2/g');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.existsSync(path.join(src, 'inner2', 'g')), false, 'a slave bind sent its mount to the host');
  // the containers' roots and their other mounts never reach the host
  assert.deepEqual(mountsUnder(root().root), []);
});

test('docker\'s source checks: rshared needs a shared mount, rslave a shared or slave one; at run (exit 125, nothing created) and at start (exit 1)', () => {
  const plain = path.join(root().scratch, 'plain'); // on this VM's private /
  fs.mkdirSync(plain, { recursive: true });
  const before = snapshotTree(root().root);
  const cases: [string[], RegExp][] = [
    [['-v', `${plain}:/mnt:rshared`], new RegExp(`^tsrun: path ${plain} is mounted on / but it is not a shared mount`)],
    [['-v', `${plain}:/mnt:shared`], /is not a shared mount/],
    [['-v', `${plain}:/mnt:rslave`], new RegExp(`^tsrun: path ${plain} is mounted on / but it is not a shared or slave mount`)],
    [['--mount', `type=bind,src=${plain},dst=/mnt,bind-propagation=slave`], /is not a shared or slave mount/],
  ];
  for (const [flags, msg] of cases) {
    for (const verb of ['run', 'create']) {
      const r = tsrun(root().root, [verb, '--network', 'none', ...flags, 'busybox', 'true']);
      assert.equal(r.code, 125, `${verb} ${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  }
  assert.deepEqual(snapshotTree(root().root), before);
  // the source's mount made private after create: start refuses, as docker's daemon does at start
  const own = path.join(root().scratch, 'own');
  fs.mkdirSync(own);
  sh('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tsrun-test', own]);
  sh('mount', ['--make-shared', own]);
  names.push('later');
  tsrunOk(root().root, ['create', '--network', 'none', '--name', 'later', '-v', `${own}:/mnt:rshared`, 'busybox', 'true']);
  sh('mount', ['--make-private', own]);
  const r = tsrun(root().root, ['start', 'later']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^tsrun: path ${own} is mounted on ${own} but it is not a shared mount`));
  assert.equal(tsrunOk(root().root, ['inspect', '-f', '{{.State.Status}}', 'later']).trim(), 'created');
});
