/**
 * `tsrun cp` through the real CLI, on a stopped and a running container: docker's rules for where
 * a copy lands, `-` tar streams both ways, `-a`, `-L`, and paths that try to leave the container
 * (`..`, absolute symlinks to host files in a hostile image, a tar member `../x`): each is refused
 * or lands inside the container, never on the host; bad input leaves the store as it was.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { busyboxTar, tempRoot, tsrun, tsrunOk, importBusybox, mountsUnder, snapshotTree, type TempRoot } from '../helpers/cli.js';

let t: TempRoot;
let host: string; // a host dir outside the store holding the "secret" a hostile image points at
let secret: string;

before(() => {
  t = tempRoot('tsrun-cp-');
  importBusybox(t.root);
  host = path.join(t.scratch, 'host');
  fs.mkdirSync(host);
  secret = path.join(host, 'secret');
  fs.writeFileSync(secret, 'HOST SECRET\n');
  // a hostile image: symlinks to the host's files and directories, absolute and relative
  const extra = path.join(t.scratch, 'hostile');
  fs.mkdirSync(extra);
  fs.symlinkSync(secret, path.join(extra, 'evil'));
  fs.symlinkSync('/', path.join(extra, 'rootlink'));
  fs.symlinkSync('../../../../../../../..' + host, path.join(extra, 'hostdir'));
  const tar = path.join(t.scratch, 'hostile.tar');
  fs.copyFileSync(busyboxTar(), tar);
  const r = spawnSync('tar', ['-rf', tar, '-C', extra, 'evil', 'rootlink', 'hostdir']);
  assert.equal(r.status, 0, r.stderr.toString());
  tsrunOk(t.root, ['import', tar, 'hostile:latest']);
  tsrunOk(t.root, ['create', '--name', 'stopped', 'busybox', 'sleep', '1000']);
  tsrunOk(t.root, ['create', '--name', 'bad', 'hostile', 'sleep', '1000']);
  tsrunOk(t.root, ['run', '-d', '--network', 'none', '--name', 'live', 'busybox', 'sleep', '1000']);
  tsrunOk(t.root, ['run', '-d', '--network', 'none', '--name', 'badlive', 'hostile', 'sleep', '1000']);
});

after(() => {
  tsrun(t.root, ['rm', '-f', 'live', 'badlive', 'stopped', 'bad']);
  t.cleanup();
});

const cp = (...args: string[]) => tsrun(t.root, ['cp', ...args], { cwd: t.scratch });
const cpOk = (...args: string[]) => tsrunOk(t.root, ['cp', ...args], { cwd: t.scratch });
const inside = (ctr: string, cmd: string) => tsrunOk(t.root, ['exec', ctr, 'sh', '-c', cmd]);
const scratch = (...p: string[]) => path.join(t.scratch, ...p);
function fresh(name: string): string {
  const d = scratch(name);
  fs.rmSync(d, { recursive: true, force: true });
  return d;
}

test('out of a stopped and a running container: docker rules for file, dir, dir/. and an existing dir', () => {
  for (const ctr of ['stopped', 'live']) {
    const f = fresh(`${ctr}-passwd`);
    cpOk(`${ctr}:/etc/passwd`, f);
    assert.match(fs.readFileSync(f, 'utf8'), /^root:x:0:0:/);
    // a directory to a missing path: made, the contents in it
    const d = fresh(`${ctr}-etc`);
    cpOk(`${ctr}:/etc`, d);
    assert.ok(fs.existsSync(path.join(d, 'passwd')) && fs.existsSync(path.join(d, 'group')));
    // a directory to an existing directory: DIR/basename; with /. its contents
    const e = fresh(`${ctr}-into`);
    fs.mkdirSync(e);
    cpOk(`${ctr}:/etc`, e);
    assert.ok(fs.existsSync(path.join(e, 'etc', 'passwd')));
    cpOk(`${ctr}:/etc/.`, e);
    assert.ok(fs.existsSync(path.join(e, 'passwd')));
    // a file into an existing directory keeps its name; relative container paths start at /
    cpOk(`${ctr}:etc/group`, e + '/');
    assert.ok(fs.statSync(path.join(e, 'group')).isFile());
    // a directory onto a file, a file with a trailing slash, a missing DEST/ for a file
    assert.match(cp(`${ctr}:/etc`, f).stderr, /cannot overwrite non-directory/);
    assert.match(cp(`${ctr}:/etc/passwd/`, scratch('x')).stderr, /not a directory/);
    assert.match(cp(`${ctr}:/etc/passwd`, scratch('missing-dir') + '/').stderr, /no such directory/);
    assert.ok(!fs.existsSync(scratch('missing-dir')));
  }
  // what only the running container has: a file it wrote, and its /etc/hostname bind mount
  inside('live', 'echo made inside > /made');
  cpOk('live:/made', fresh('made'));
  assert.equal(fs.readFileSync(scratch('made'), 'utf8'), 'made inside\n');
  assert.equal(mountsUnder(t.root).filter((m) => m.includes('.export')).length, 0);
});

test('into a stopped and a running container; the stopped one sees it when started', () => {
  const src = fresh('src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'sub', 'f'), 'file data\n');
  fs.symlinkSync('/etc/shadow', path.join(src, 'link'));
  fs.linkSync(path.join(src, 'sub', 'f'), path.join(src, 'hard'));
  fs.chownSync(path.join(src, 'sub', 'f'), 1234, 5678);
  for (const ctr of ['stopped', 'live']) {
    cpOk(src, `${ctr}:/tmp`); // an existing dir: /tmp/src
    cpOk(src + '/.', `${ctr}:/opt/`); // missing: made, with the contents
    cpOk('-a', src, `${ctr}:/archived`);
    cpOk(path.join(src, 'sub', 'f'), `${ctr}:/etc/passwd`); // an existing file: overwritten
  }
  tsrunOk(t.root, ['start', 'stopped']);
  try {
    for (const ctr of ['stopped', 'live']) {
      const cmd = 'cat /tmp/src/sub/f /opt/sub/f /etc/passwd; readlink /tmp/src/link; stat -c "%u:%g %h" /tmp/src/sub/f /archived/sub/f';
      const out = ctr === 'stopped' ? tsrunOk(t.root, ['exec', 'stopped', 'sh', '-c', cmd]) : inside(ctr, cmd);
      // without -a root owns the copy, with -a the source's owner; the hard link stays one
      assert.equal(out, 'file data\nfile data\nfile data\n/etc/shadow\n0:0 2\n1234:5678 2\n', ctr);
    }
  } finally {
    tsrunOk(t.root, ['stop', '-t', '0', 'stopped']);
  }
  assert.equal(fs.readFileSync('/etc/shadow', 'utf8').includes('file data'), false);
});

test('- : a tar of the path on stdout, a tar on stdin into a directory', () => {
  const out = spawnSync('sh', ['-c', `node -- ${JSON.stringify(path.resolve('bin/tsrun'))} --root ${t.root} cp live:/etc - | tar -t`], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  assert.ok(out.stdout.split('\n').includes('etc/') && out.stdout.split('\n').includes('etc/passwd'), out.stdout);
  const dir = fresh('tarsrc');
  fs.mkdirSync(path.join(dir, 'd'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'd', 'x'), 'from tar\n');
  const tar = spawnSync('tar', ['-c', '--owner=77', '--group=88', '-C', dir, 'd']).stdout;
  for (const ctr of ['stopped', 'live']) {
    tsrunOk(t.root, ['cp', '-', `${ctr}:/tmp`], { input: tar });
    tsrunOk(t.root, ['cp', '-a', '-', `${ctr}:/var`], { input: tar });
    const back = spawnSync('sh', ['-c', `node -- bin/tsrun --root ${t.root} cp ${ctr}:/tmp/d/x - | tar -xO`], { encoding: 'utf8' });
    assert.equal(back.stdout, 'from tar\n');
  }
  assert.equal(inside('live', 'stat -c %u:%g /tmp/d/x /var/d/x'), '0:0\n77:88\n');
  // into something that is not a directory
  assert.match(tsrun(t.root, ['cp', '-', 'live:/etc/passwd'], { input: tar }).stderr, /must be a directory/);
});

test('-L follows the last symlink of the source, inside the container', () => {
  inside('live', 'ln -sf /etc/group /grouplink');
  const a = fresh('nofollow');
  cpOk('live:/grouplink', a);
  assert.equal(fs.readlinkSync(a), '/etc/group');
  const b = fresh('follow');
  cpOk('-L', 'live:/grouplink', b);
  assert.match(fs.readFileSync(b, 'utf8'), /^root:x:0:/);
});

test('escapes: .., symlinks to host paths in a hostile image, a tar member ../x: inside the container or refused', () => {
  const before = fs.readFileSync(secret, 'utf8');
  const written = `tsrun-cp-test-${process.pid}`;
  for (const ctr of ['bad', 'badlive']) {
    // reading through the image's symlink to a host file: the name inside the container, not the host's
    assert.equal(cp('-L', `${ctr}:/evil`, fresh('evil')).code, 1);
    assert.ok(!fs.existsSync(scratch('evil')) || fs.lstatSync(scratch('evil')).isSymbolicLink());
    const r = cp(`${ctr}:/hostdir/secret`, fresh('via-dir'));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^tsrun: Could not find the file/);
    assert.equal(cp(`${ctr}:../../../../../..${secret}`, fresh('dotdot')).code, 1);
    assert.ok(!fs.existsSync(scratch('dotdot')));
    // writing through them: lands in the container (its /, its /tmp), never on the host
    fs.writeFileSync(scratch('payload'), 'PWNED\n');
    // a destination symlink is followed as docker does, inside the container: its target's dir is not there
    assert.match(cp(scratch('payload'), `${ctr}:/evil`).stderr, /^tsrun: Could not find the file/);
    cpOk(scratch('payload'), `${ctr}:/rootlink/tmp/${written}`); // the container's /tmp
    const via = cp(scratch('payload'), `${ctr}:/hostdir/secret`);
    assert.equal(via.code, 1, 'the host dir is not in the container');
    cpOk(scratch('payload'), `${ctr}:../../../../../tmp/${written}-dotdot`);
    const tarEsc = spawnSync('sh', ['-c', `cd ${t.scratch} && tar -cPf - --transform 's,^,../../../../../../..${host}/,' payload`]).stdout;
    const tr = tsrun(t.root, ['cp', '-', `${ctr}:/tmp`], { input: tarEsc });
    assert.equal(tr.code, 1);
    assert.match(tr.stderr, /outside the destination/);
  }
  assert.equal(fs.readFileSync(secret, 'utf8'), before);
  assert.deepEqual(fs.readdirSync(host), ['secret']);
  tsrunOk(t.root, ['start', 'bad']);
  try {
    assert.equal(tsrunOk(t.root, ['exec', 'bad', 'cat', `/tmp/${written}`, `/tmp/${written}-dotdot`]), 'PWNED\nPWNED\n');
  } finally {
    tsrunOk(t.root, ['stop', '-t', '0', 'bad']);
  }
  assert.equal(inside('badlive', `cat /tmp/${written} /tmp/${written}-dotdot`), 'PWNED\nPWNED\n');
  assert.ok(!fs.existsSync(`/tmp/${written}`) && !fs.existsSync(`/tmp/${written}-dotdot`));
});

test('a tree onto one already there: files overwritten; a symlink or fifo at a file name replaced, never followed; a directory there refused', () => {
  const before = fs.readFileSync(secret, 'utf8');
  // what the container holds: a symlink to the host's secret (absolute: outside the container, only
  // a lookup from the host's root would reach it), a fifo, a file, a directory, where files will land
  const hostile = fresh('over-hostile');
  fs.mkdirSync(path.join(hostile, 'over', 'f4'), { recursive: true });
  fs.symlinkSync(secret, path.join(hostile, 'over', 'f1'));
  assert.equal(spawnSync('mkfifo', [path.join(hostile, 'over', 'f2')]).status, 0);
  fs.writeFileSync(path.join(hostile, 'over', 'f3'), 'old\n');
  fs.writeFileSync(path.join(hostile, 'over', 'f4', 'x'), 'x\n');
  const tar = spawnSync('tar', ['-c', '-C', hostile, 'over']).stdout;
  const src = fresh('over-src');
  fs.mkdirSync(path.join(src, 'over'), { recursive: true });
  for (const n of ['f1', 'f2', 'f3']) fs.writeFileSync(path.join(src, 'over', n), `new ${n}\n`, { mode: 0o640 });
  fs.chmodSync(path.join(src, 'over', 'f3'), 0o640);
  const src4 = fresh('over-src4');
  fs.mkdirSync(path.join(src4, 'over'), { recursive: true });
  fs.writeFileSync(path.join(src4, 'over', 'f4'), 'a file onto a dir\n');
  for (const ctr of ['bad', 'badlive']) {
    tsrunOk(t.root, ['cp', '-', `${ctr}:/`], { input: tar });
    // out: a symlink and a fifo copied as what they are
    const out1 = fresh(`over-out1-${ctr}`);
    cpOk(`${ctr}:/over`, out1);
    assert.equal(fs.readlinkSync(path.join(out1, 'f1')), secret);
    assert.ok(fs.lstatSync(path.join(out1, 'f2')).isFIFO());
    assert.equal(fs.readFileSync(path.join(out1, 'f3'), 'utf8'), 'old\n');
    assert.equal(fs.readFileSync(path.join(out1, 'f4', 'x'), 'utf8'), 'x\n');
    // in: each name replaced by the source's regular file
    cpOk(path.join(src, 'over'), `${ctr}:/`);
    const out2 = fresh(`over-out2-${ctr}`);
    cpOk(`${ctr}:/over`, out2);
    for (const n of ['f1', 'f2', 'f3']) {
      const st = fs.lstatSync(path.join(out2, n));
      assert.ok(st.isFile(), `${ctr}: ${n} is a regular file`);
      assert.equal(st.mode & 0o777, 0o640, `${ctr}: ${n}'s mode`);
      assert.equal(fs.readFileSync(path.join(out2, n), 'utf8'), `new ${n}\n`);
    }
    const r = cp(path.join(src4, 'over'), `${ctr}:/`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^tsrun: cannot overwrite directory ".*over\/f4" with non-directory/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  assert.equal(fs.readFileSync(secret, 'utf8'), before);
  assert.deepEqual(fs.readdirSync(host), ['secret']);
});

test('bad input: unknown container, two containers, no container, a missing host source: one line, store unchanged', () => {
  // the running containers' dirs are left out: their monitors may write there at any time
  const liveIds = ['live', 'badlive'].map((n) => JSON.parse(tsrunOk(t.root, ['inspect', n]))[0].Id as string);
  const store = () => snapshotTree(t.root).filter((l) => !liveIds.some((id) => l.startsWith(`containers/${id}`)));
  const snap = store();
  const cases: [string[], RegExp][] = [
    [['ghost:/etc', 'x'], /^tsrun: No such container: ghost/],
    [[scratch('payload'), 'ghost:/tmp'], /^tsrun: No such container: ghost/],
    [['live:/etc', 'stopped:/tmp'], /copying between containers is not supported/],
    [['a', 'b'], /must specify at least one container source/],
    [[scratch('nope'), 'stopped:/tmp'], /no such file or directory/],
    [['live:/nope/deeper', 'x'], /Could not find the file/],
  ];
  for (const [args, re] of cases) {
    const r = cp(...args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  assert.deepEqual(store(), snap);
  assert.deepEqual(mountsUnder(t.root).filter((m) => m.includes('.export')), []);
});

test('a running container: cp reaches its volumes (its own mount tree)', () => {
  tsrunOk(t.root, ['run', '-d', '--network', 'none', '--name', 'vol_live', '-v', 'cp_vol:/data', 'busybox', 'sleep', '1000']);
  try {
    fs.writeFileSync(scratch('to-volume'), 'in the volume\n');
    cpOk(scratch('to-volume'), 'vol_live:/data/');
    const mp = tsrunOk(t.root, ['volume', 'inspect', '-f', '{{.Mountpoint}}', 'cp_vol']).trim();
    assert.equal(fs.readFileSync(path.join(mp, 'to-volume'), 'utf8'), 'in the volume\n');
    cpOk('vol_live:/data/to-volume', fresh('from-volume'));
    assert.equal(fs.readFileSync(scratch('from-volume'), 'utf8'), 'in the volume\n');
  } finally {
    tsrun(t.root, ['rm', '-f', '-v', 'vol_live']);
    tsrun(t.root, ['volume', 'rm', 'cp_vol']);
  }
});
