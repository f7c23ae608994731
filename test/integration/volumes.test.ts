/**
 * Volumes as docker users use them, through the real CLI against a temporary
 * --root: named and anonymous volumes, copy-up, the image's VOLUMEs (kept out
 * of the container layer and commits), relative binds, -v modes, --mount,
 * --volumes-from, the volume verbs, rm -v / --rm, and bad input that leaves
 * the store as it was. Every container runs with --network none (no bridge
 * needed for any of this).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempRoot, tsrun, tsrunOk, importBusybox, snapshotTree, type TempRoot } from '../helpers/cli.js';

let tr: TempRoot;
const root = () => tr.root;
const ok = (args: string[], cwd?: string) => tsrunOk(root(), args, cwd ? { cwd } : {});
const run = (args: string[]) => ok(['run', '--rm', '--network', 'none', ...args]);
const volumes = () => ok(['volume', 'ls', '-q']).split('\n').filter(Boolean).sort();
const inspect = (ref: string, fmt: string) => ok(['inspect', '-f', fmt, ref]).trim();

/** A dir on a shared tmpfs of its own: shared and slave binds need such a source (this VM's / is private); cleanup unmounts it. */
function sharedDir(dir: string): void {
  fs.mkdirSync(dir);
  for (const args of [['-t', 'tmpfs', '-o', 'size=4m', 'tsrun-test', dir], ['--make-shared', dir]]) {
    const r = spawnSync('mount', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `mount ${args.join(' ')}: ${r.stderr}`);
  }
}

function assertFailsCleanly(args: string[], code: number, pattern: RegExp) {
  const before = snapshotTree(root());
  const r = tsrun(root(), args);
  assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, /^tsrun: [^\n]+\n$/, args.join(' '));
  assert.match(r.stderr, pattern, args.join(' '));
  assert.deepEqual(snapshotTree(root()), before, `${args.join(' ')} changed the store`);
}

/** Names of the files in every layer of IMAGE (from `save`): what a commit put in its layers. */
function layerMembers(image: string): string[] {
  const dir = path.join(tr.scratch, `save-${Date.now()}`);
  fs.mkdirSync(dir);
  ok(['save', '-o', path.join(dir, 'img.tar'), image]);
  spawnSync('tar', ['-xf', path.join(dir, 'img.tar'), '-C', dir]);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
  const out: string[] = [];
  for (const l of manifest[0]!.Layers) {
    const r = spawnSync('tar', ['-tf', path.join(dir, l)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    out.push(...r.stdout.split('\n').filter(Boolean));
  }
  return out;
}

describe('volumes', () => {
  before(() => {
    tr = tempRoot();
    importBusybox(root());
    // an image with content at /srv/app (owner 1000, mode 750) and a VOLUME there, made as a docker user would
    ok(['run', '--name', 'mk', '--network', 'none', 'busybox', 'sh', '-c', 'mkdir -p /srv/app/sub && echo shipped > /srv/app/sub/f && chown -R 1000:1000 /srv/app && chmod 750 /srv/app && ln -s /etc/passwd /srv/app/pw']);
    ok(['commit', '-c', 'VOLUME /srv/app', '-c', 'VOLUME ["/cache"]', 'mk', 'withvol']);
    ok(['rm', 'mk']);
    // a broken run must fail the tests, not skip them
    run(['busybox', 'true']);
  });
  after(() => tr?.cleanup());

  it('named volume: created on first use, shared by containers, survives them; ro is read-only', () => {
    run(['-v', 'shared1:/data', 'busybox', 'sh', '-c', 'echo one > /data/f']);
    assert.ok(volumes().includes('shared1'));
    assert.equal(run(['-v', 'shared1:/other', 'busybox', 'cat', '/other/f']).trim(), 'one');
    const r = tsrun(root(), ['run', '--rm', '--network', 'none', '-v', 'shared1:/data:ro', 'busybox', 'sh', '-c', 'echo x > /data/f']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Read-only file system/);
    const mp = inspectVolume('shared1').Mountpoint as string;
    assert.equal(mp, path.join(root(), 'volumes', 'shared1', '_data'));
    assert.equal(fs.readFileSync(path.join(mp, 'f'), 'utf8'), 'one\n');
  });

  it('volume create/ls/inspect/rm with labels, filters and --format', () => {
    assert.equal(ok(['volume', 'create', '--label', 'tier=db', '--label', 'x', 'vcli']).trim(), 'vcli');
    assert.equal(ok(['volume', 'create', '--name', 'vcli2']).trim(), 'vcli2');
    assert.equal(ok(['volume', 'create', 'vcli']).trim(), 'vcli'); // idempotent, as docker
    const anon = ok(['volume', 'create']).trim();
    assert.match(anon, /^[a-f0-9]{64}$/);
    const ins = inspectVolume('vcli');
    assert.deepEqual(Object.keys(ins).sort(), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    assert.deepEqual(ins.Labels, { tier: 'db', x: '' });
    assert.equal(ins.Driver, 'local');
    assert.match(ins.CreatedAt as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(ok(['volume', 'inspect', '--format', '{{.Name}} {{.Labels.tier}} {{.Scope}}', 'vcli']).trim(), 'vcli db local');
    assert.equal(ok(['volume', 'ls', '--filter', 'label=tier=db', '--format', '{{.Name}}|{{.Driver}}|{{.Label "tier"}}']).trim(), 'vcli|local|db');
    assert.equal(ok(['volume', 'ls', '-q', '--filter', 'name=vcli']).trim().split('\n').sort().join(' '), 'vcli vcli2');
    const table = ok(['volume', 'ls', '--filter', 'name=vcli2']);
    assert.equal(table, 'DRIVER    VOLUME NAME\nlocal     vcli2\n');
    assert.match(ok(['volume', 'ls', '--format', 'table {{.Name}}\t{{.Mountpoint}}', '--filter', 'name=vcli2']), /^VOLUME NAME\s+MOUNTPOINT\nvcli2\s+\/.*\/volumes\/vcli2\/_data\n$/);
    assert.equal(ok(['volume', 'rm', 'vcli', 'vcli2', anon]), `vcli\nvcli2\n${anon}\n`);
    assert.ok(!volumes().some((v) => v.startsWith('vcli')));
    // missing: exit 1; -f: exit 0
    const r = tsrun(root(), ['volume', 'rm', 'nope-vol']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no such volume/);
    assert.equal(tsrun(root(), ['volume', 'rm', '-f', 'nope-vol']).code, 0);
    const ri = tsrun(root(), ['volume', 'inspect', 'nope-vol']);
    assert.equal(ri.code, 1);
    assert.match(ri.stderr, /No such volume: nope-vol/);
    // a template error is docker's exit 1
    assert.equal(tsrun(root(), ['volume', 'ls', '--format', '{{.Nope}}']).code, 1);
  });

  it('a volume in use is refused by rm (even -f) and kept by prune; dangling filter', () => {
    ok(['create', '--name', 'user1', '--network', 'none', '-v', 'busy1:/d', 'busybox', 'true']);
    const r = tsrun(root(), ['volume', 'rm', '-f', 'busy1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /remove busy1: volume is in use - \[[a-f0-9]{64}\]/);
    assert.ok(!ok(['volume', 'ls', '-q', '--filter', 'dangling=true']).includes('busy1'));
    assert.ok(ok(['volume', 'ls', '-q', '--filter', 'dangling=false']).includes('busy1'));
    ok(['volume', 'prune', '-f', '-a']);
    assert.ok(volumes().includes('busy1'));
    ok(['rm', 'user1']);
    assert.ok(volumes().includes('busy1')); // a named volume outlives rm -v too
    assert.equal(ok(['volume', 'rm', 'busy1']).trim(), 'busy1');
  });

  it('copy-up: an empty volume gets the image content (owner, mode, symlinks); a full one is left; nocopy skips', () => {
    run(['-v', 'cu1:/srv/app', 'withvol', 'true']);
    const mp = path.join(root(), 'volumes', 'cu1', '_data');
    assert.equal(fs.readFileSync(path.join(mp, 'sub', 'f'), 'utf8'), 'shipped\n');
    const st = fs.statSync(mp);
    assert.equal(st.uid, 1000);
    assert.equal(st.mode & 0o7777, 0o750);
    assert.equal(fs.readlinkSync(path.join(mp, 'pw')), '/etc/passwd'); // a symlink stays a symlink, never followed
    // not empty any more: the image's content is not copied again over a change
    run(['-v', 'cu1:/srv/app', 'withvol', 'sh', '-c', 'echo mine > /srv/app/sub/f']);
    run(['-v', 'cu1:/srv/app', 'withvol', 'true']);
    assert.equal(fs.readFileSync(path.join(mp, 'sub', 'f'), 'utf8'), 'mine\n');
    // nocopy, both spellings
    assert.equal(run(['-v', 'cu2:/srv/app:nocopy', 'withvol', 'ls', '-A', '/srv/app']), '');
    assert.equal(run(['--mount', 'source=cu3,target=/srv/app,volume-nocopy', 'withvol', 'ls', '-A', '/srv/app']), '');
    // binds are never filled from the image
    const hostDir = path.join(tr.scratch, 'emptybind');
    fs.mkdirSync(hostDir);
    assert.equal(run(['-v', `${hostDir}:/srv/app`, 'withvol', 'ls', '-A', '/srv/app']), '');
    ok(['volume', 'rm', 'cu1', 'cu2', 'cu3']);
  });

  it("the image's VOLUMEs are anonymous volumes: data there is kept out of the layer and of a commit", () => {
    const before = volumes();
    ok(['run', '--name', 'iv', '--network', 'none', 'withvol', 'sh', '-c', 'echo secret > /srv/app/new && echo c > /cache/c && echo layer > /inlayer']);
    const made = volumes().filter((v) => !before.includes(v));
    assert.equal(made.length, 2);
    assert.deepEqual(JSON.parse(inspect('iv', '{{json .Config.Volumes}}')), { '/cache': {}, '/srv/app': {} });
    const mounts = JSON.parse(inspect('iv', '{{json .Mounts}}')) as Record<string, unknown>[];
    assert.equal(mounts.length, 2);
    for (const m of mounts) {
      assert.equal(m.Type, 'volume');
      assert.equal(m.Driver, 'local');
      assert.equal(m.RW, true);
      assert.ok(made.includes(m.Name as string));
      assert.equal(m.Source, path.join(root(), 'volumes', m.Name as string, '_data'));
    }
    assert.equal(inspectVolume(made[0]!).Labels?.constructor, Object);
    assert.ok('com.docker.volume.anonymous' in (inspectVolume(made[0]!).Labels as object));
    // the anonymous /srv/app volume was filled from the image, then written
    const app = mounts.find((m) => m.Destination === '/srv/app')!;
    assert.deepEqual(fs.readdirSync(app.Source as string).sort(), ['new', 'pw', 'sub']);
    // diff and commit see the container layer only
    const diff = ok(['diff', 'iv']);
    assert.match(diff, /^A \/inlayer$/m);
    assert.doesNotMatch(diff, /srv\/app\/new|cache\/c/);
    ok(['commit', 'iv', 'iv:1']);
    const members = layerMembers('iv:1');
    assert.ok(members.includes('inlayer'), members.join(' '));
    assert.ok(!members.some((m) => m.includes('srv/app/new') || m.startsWith('cache/c')), members.join(' '));
    assert.ok(members.some((m) => m.includes('srv/app/sub/f'))); // the image's own content is still there
    // rm without -v keeps them; rm -v removes them
    ok(['rm', 'iv']);
    assert.ok(made.every((v) => volumes().includes(v)));
    ok(['volume', 'rm', ...made]);
    ok(['run', '--name', 'iv2', '--network', 'none', 'withvol', 'true']);
    const made2 = volumes().filter((v) => !before.includes(v));
    assert.equal(made2.length, 2);
    ok(['rm', '-v', 'iv2']);
    assert.deepEqual(volumes(), before);
    // --rm removes them too, foreground and detached
    run(['withvol', 'true']);
    assert.deepEqual(volumes(), before);
    ok(['run', '-d', '--rm', '--network', 'none', 'withvol', 'true']);
    // the detached --rm's removal runs once the container ended: wait for it (generously: CI may be slow)
    for (const end = Date.now() + 60_000; volumes().length !== before.length && Date.now() < end; ) spawnSync('sleep', ['0.1']);
    assert.deepEqual(volumes(), before);
    // -v on the image's path with a named volume replaces the anonymous one
    run(['-v', 'over1:/srv/app', 'withvol', 'true']);
    assert.deepEqual(volumes().filter((v) => !before.includes(v)), ['over1']);
    ok(['volume', 'rm', 'over1']);
  });

  it('anonymous -v /path: listed, in .Config.Volumes, removed by rm -v and volume prune; prune keeps named ones', () => {
    const before = volumes();
    ok(['run', '--name', 'an', '--network', 'none', '-v', '/scratch', 'busybox', 'sh', '-c', 'echo a > /scratch/x']);
    assert.deepEqual(JSON.parse(inspect('an', '{{json .Config.Volumes}}')), { '/scratch': {} });
    assert.equal(inspect('an', '{{json .HostConfig.Binds}}'), 'null');
    const anon = volumes().filter((v) => !before.includes(v));
    assert.equal(anon.length, 1);
    ok(['volume', 'create', 'keepme']);
    ok(['rm', 'an']);
    const out = ok(['volume', 'prune', '-f']);
    assert.match(out, new RegExp(`^Deleted Volumes:\\n${anon[0]}\\n\\nTotal reclaimed space: \\d+(\\.\\d+)?k?B\\n$`));
    assert.ok(volumes().includes('keepme'));
    assert.match(ok(['volume', 'prune', '-f', '-a']), /keepme/);
    assert.deepEqual(volumes(), before.filter((v) => v !== 'keepme'));
  });

  it("system df counts volumes (docker's sizes); system prune --volumes removes unused anonymous ones only", () => {
    const before = volumes();
    ok(['run', '--name', 'dfc', '--network', 'none', '-v', '/anon', '-v', 'dfnamed:/n', 'busybox', 'sh', '-c', 'head -c 100000 /dev/zero > /anon/z; ln /anon/z /anon/z2; printf 12 > /n/f']);
    const anon = volumes().filter((v) => !before.includes(v) && v !== 'dfnamed');
    assert.equal(anon.length, 1);
    const rows = ok(['system', 'df', '-v']);
    assert.match(rows, new RegExp(`^${anon[0]}\\s+1\\s+100kB$`, 'm')); // a hardlink counted once
    assert.match(rows, /^dfnamed\s+1\s+2B$/m);
    ok(['rm', 'dfc']);
    assert.match(ok(['system', 'prune', '-f', '--volumes']), new RegExp(`Deleted Volumes:\\n${anon[0]}\\n`));
    assert.deepEqual(volumes(), [...before, 'dfnamed'].sort());
    ok(['volume', 'rm', 'dfnamed']);
  });

  it('-v ./dir and -v . are binds of paths relative to the working directory', () => {
    const cwd = path.join(tr.scratch, 'proj');
    fs.mkdirSync(path.join(cwd, 'dir'), { recursive: true });
    fs.writeFileSync(path.join(cwd, 'dir', 'f'), 'rel\n');
    fs.writeFileSync(path.join(cwd, 'top'), 'dot\n');
    assert.equal(ok(['run', '--rm', '--network', 'none', '-v', './dir:/x', 'busybox', 'cat', '/x/f'], cwd), 'rel\n');
    assert.equal(ok(['run', '--rm', '--network', 'none', '-v', '.:/x:ro,z', 'busybox', 'cat', '/x/top'], cwd), 'dot\n');
    assert.equal(ok(['run', '--rm', '--network', 'none', '--mount', 'type=bind,src=./dir,dst=/x', 'busybox', 'cat', '/x/f'], cwd), 'rel\n');
    ok(['create', '--name', 'relc', '--network', 'none', '-v', './dir:/x:ro', 'busybox', 'true'], cwd);
    assert.equal(inspect('relc', '{{json .HostConfig.Binds}}'), JSON.stringify([`${cwd}/dir:/x:ro`]));
    const m = JSON.parse(inspect('relc', '{{json .Mounts}}')) as Record<string, unknown>[];
    assert.deepEqual(m, [{ Type: 'bind', Source: `${cwd}/dir`, Destination: '/x', Mode: 'ro', RW: false, Propagation: 'rprivate' }]);
    ok(['rm', 'relc']);
  });

  it('-v modes combine: ro,z,Z,propagation,nocopy accepted as docker does', () => {
    const host = path.join(tr.scratch, 'modes');
    sharedDir(host);
    for (const mode of ['rw,z', 'Z', 'ro,Z,rprivate', 'rslave', 'rshared,rw', 'private', 'slave', 'shared']) {
      const r = tsrun(root(), ['run', '--rm', '--network', 'none', '-v', `${host}:/m:${mode}`, 'busybox', 'sh', '-c', 'touch /m/t 2>/dev/null && echo rw || echo ro']);
      assert.equal(r.code, 0, `${mode}: ${r.stderr}`);
      assert.equal(r.stdout.trim(), mode.split(',').includes('ro') ? 'ro' : 'rw', mode);
    }
    assert.equal(run(['-v', 'modevol:/m:nocopy,z,ro', 'busybox', 'sh', '-c', 'touch /m/t 2>/dev/null && echo rw || echo ro']).trim(), 'ro');
    ok(['volume', 'rm', 'modevol']);
  });

  it('--mount: bind, volume and tmpfs with their options', () => {
    const host = path.join(tr.scratch, 'mnt');
    sharedDir(host);
    fs.writeFileSync(path.join(host, 'f'), 'b\n');
    assert.equal(run(['--mount', `type=bind,source=${host},target=/b,readonly`, 'busybox', 'sh', '-c', 'cat /b/f; touch /b/x 2>/dev/null || echo ro']), 'b\nro\n');
    run(['--mount', 'type=volume,source=mv1,target=/v,volume-label=made=bymount', 'busybox', 'sh', '-c', 'echo v > /v/f']);
    assert.deepEqual(inspectVolume('mv1').Labels, { made: 'bymount' });
    assert.equal(run(['--mount', 'src=mv1,dst=/w,ro', 'busybox', 'cat', '/w/f']), 'v\n');
    const df = run(['--mount', 'type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770', 'busybox', 'sh', '-c', 'stat -c %a /t; df -k /t | tail -1']);
    assert.match(df, /^1770\ntmpfs\s+1024\s/);
    ok(['create', '--name', 'mc', '--network', 'none', '--mount', `type=bind,source=${host},target=/b,bind-propagation=rslave`, '--mount', 'type=tmpfs,target=/t,tmpfs-size=2m', 'busybox', 'true']);
    const specs = JSON.parse(inspect('mc', '{{json .HostConfig.Mounts}}')) as Record<string, unknown>[];
    assert.deepEqual(specs, [
      { Type: 'bind', Source: host, Target: '/b', BindOptions: { Propagation: 'rslave' } },
      { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 2 * 1024 * 1024 } },
    ]);
    const mounts = JSON.parse(inspect('mc', '{{json .Mounts}}')) as Record<string, unknown>[];
    assert.equal(mounts.find((m) => m.Type === 'bind')!.Propagation, 'rslave');
    ok(['rm', 'mc']);
    // an anonymous --mount volume goes with rm -v
    const before = volumes();
    ok(['run', '--name', 'ma', '--network', 'none', '--mount', 'type=volume,target=/anon', 'busybox', 'true']);
    assert.equal(volumes().length, before.length + 1);
    ok(['rm', '-v', 'ma']);
    assert.deepEqual(volumes(), before);
    ok(['volume', 'rm', 'mv1']);
  });

  it('local driver options: a tmpfs volume and an o=bind volume', () => {
    ok(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'tv1']);
    assert.deepEqual(inspectVolume('tv1').Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
    assert.match(run(['-v', 'tv1:/t', 'busybox', 'df', '-k', '/t']), /tmpfs\s+1024\s/);
    const host = path.join(tr.scratch, 'bindvol');
    fs.mkdirSync(host);
    ok(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${host}`, 'bv1']);
    run(['-v', 'bv1:/b', 'busybox', 'sh', '-c', 'echo via-volume > /b/f']);
    assert.equal(fs.readFileSync(path.join(host, 'f'), 'utf8'), 'via-volume\n');
    ok(['volume', 'rm', 'tv1', 'bv1']);
    assert.ok(fs.existsSync(path.join(host, 'f'))); // removing the volume leaves the bound host dir alone
  });

  it('--volumes-from copies binds and volumes, :ro makes them read-only', () => {
    const host = path.join(tr.scratch, 'vf');
    fs.mkdirSync(host);
    ok(['create', '--name', 'src1', '--network', 'none', '-v', 'vf1:/v', '-v', `${host}:/h`, '-v', '/anon', '--tmpfs', '/t', 'busybox', 'true']);
    assert.equal(run(['--volumes-from', 'src1', 'busybox', 'sh', '-c', 'echo a > /v/a; echo b > /h/b; echo c > /anon/c; grep -c " /t " /proc/self/mountinfo || true']).trim(), '0');
    assert.equal(run(['--volumes-from', 'src1:ro', 'busybox', 'sh', '-c', 'cat /v/a /h/b /anon/c; touch /v/x 2>/dev/null || echo ro']), 'a\nb\nc\nro\n');
    // -v wins over a --volumes-from path
    assert.equal(run(['--volumes-from', 'src1', '-v', 'vf2:/v', 'busybox', 'ls', '-A', '/v']), '');
    ok(['create', '--name', 'user2', '--network', 'none', '--volumes-from', 'src1', 'busybox', 'true']);
    assert.equal(inspect('user2', '{{json .HostConfig.VolumesFrom}}'), '["src1"]');
    // src1's anonymous volume is still used by user2: rm -v src1 leaves it
    const anon = (JSON.parse(inspect('src1', '{{json .Mounts}}')) as Record<string, unknown>[]).find((m) => m.Destination === '/anon')!.Name as string;
    ok(['rm', '-v', 'src1']);
    assert.ok(volumes().includes(anon));
    ok(['rm', 'user2']);
    ok(['volume', 'rm', anon, 'vf1', 'vf2']);
    assertFailsCleanly(['run', '--network', 'none', '--volumes-from', 'nope-ctr', 'busybox', 'true'], 125, /No such container: nope-ctr/);
  });

  it('a volume target or copy-up path that is a symlink in the image stays inside the container', () => {
    const hostDir = path.join(tr.scratch, 'host-only');
    fs.mkdirSync(hostDir);
    fs.writeFileSync(path.join(hostDir, 'secret'), 'host\n');
    // the same absolute path exists in the image (with other content): the symlink must reach that one
    ok(['run', '--name', 'lnk', '--network', 'none', 'busybox', 'sh', '-c', `mkdir -p ${hostDir} && echo image > ${hostDir}/in-image && ln -s ${hostDir} /vd && ln -s / /toroot`]);
    ok(['commit', 'lnk', 'lnk:1']);
    ok(['rm', 'lnk']);
    // the copy-up reads the image's (absent) target, not the host's dir; the mount lands inside the root
    run(['-v', 'sym1:/vd', 'lnk:1', 'sh', '-c', 'echo inside > /vd/w']);
    assert.deepEqual(fs.readdirSync(path.join(root(), 'volumes', 'sym1', '_data')).sort(), ['in-image', 'w']);
    assert.deepEqual(fs.readdirSync(hostDir), ['secret']);
    // a target resolving to the root is refused (the named volume it made stays, as docker's would)
    const r = tsrun(root(), ['run', '--rm', '--network', 'none', '-v', 'sym2:/toroot', 'lnk:1', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /resolves to the container's root/);
    ok(['volume', 'rm', 'sym1', 'sym2']);
  });

  it('bad input: one line, exit 125 (run) or 1 (volume verbs), nothing created', () => {
    assertFailsCleanly(['run', '--network', 'none', '-v', 'a/b:/x', 'busybox', 'true'], 125, /"a\/b" includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed/);
    assertFailsCleanly(['volume', 'create', 'a/b'], 1, /includes invalid characters for a local volume name/);
    assertFailsCleanly(['volume', 'create', '-d', 'nfs', 'x1'], 1, /not supported/);
    assertFailsCleanly(['volume', 'create', '-o', 'colour=red', 'x1'], 1, /invalid option key: "colour"/);
    assertFailsCleanly(['volume', 'ls', '--filter', 'colour=red'], 1, /invalid filter 'colour'/);
    assertFailsCleanly(['volume', 'prune', '-f', '--filter', 'dangling=true'], 1, /invalid filter 'dangling'/);
    assertFailsCleanly(['run', '--network', 'none', '-v', 'okname:/x:bogus', 'busybox', 'true'], 125, /invalid mode: bogus/);
    assertFailsCleanly(['run', '--network', 'none', '-v', 'okname:/x', '-v', '/y:/x', 'busybox', 'true'], 125, /Duplicate mount point: \/x/);
    assertFailsCleanly(['run', '--network', 'none', '--mount', 'type=bind,target=/x', 'busybox', 'true'], 125, /field Source must not be empty/);
    assertFailsCleanly(['run', '--network', 'none', '--mount', 'type=bind,source=/no/such/dir,target=/x', 'busybox', 'true'], 125, /bind source path does not exist: \/no\/such\/dir/);
    assertFailsCleanly(['run', '--network', 'none', '--mount', 'type=volume,src=okname,target=/x,bogus=1', 'busybox', 'true'], 125, /unexpected key 'bogus'/);
    assertFailsCleanly(['run', '--network', 'none', '--mount', 'type=weird,target=/x', 'busybox', 'true'], 125, /mount type unknown/);
    assertFailsCleanly(['create', '--network', 'none', '--mount', 'target=/x,tmpfs-size=1m', 'busybox', 'true'], 125, /cannot mix 'tmpfs-\*' options with mount type 'volume'/);
    assertFailsCleanly(['run', '--network', 'none', '--volumes-from', 'x:rx', 'busybox', 'true'], 125, /invalid mode: rx/);
    assert.ok(!fs.existsSync('/no/such/dir'));
  });
});

function inspectVolume(name: string): Record<string, unknown> {
  return (JSON.parse(ok(['volume', 'inspect', name])) as Record<string, unknown>[])[0]!;
}
