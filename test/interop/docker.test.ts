/**
 * docker (Debian's docker.io, dockerd 20.10, a private daemon: test/helpers/dockerd.ts) and tsrun
 * read each other's images:
 *  - an image made by `tsrun commit` (adds, changes, deletions, an opaque dir, a setuid file) and
 *    `tsrun save` is `docker load`ed and run by docker: it prints the committed file and lists the
 *    same filesystem as `tsrun run`;
 *  - an image made by `docker commit` (the same changes) and `docker save` is `tsrun load`ed and run
 *    by tsrun: the same file, the same listing as `docker run`.
 * docker missing, or a daemon that does not start, fails these tests (setup.sh installs docker.io).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { tempRoot, tsrunOk, importBusybox, type TempRoot } from '../helpers/cli.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';

let tr: TempRoot;
let dk: Dockerd | undefined;

const CHANGES = 'echo changed > /etc/issue && echo new > /added && rm /bin/ls && rm -rf /home/app && mkdir /home/app && echo only > /home/app/only && ln -s /added /sym && echo s > /suid && chmod 4755 /suid';
/** Every path outside the pseudo filesystems and the files runtimes write at start, with type, mode, owner and size. */
const LIST = "find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /etc/hosts -o -path /etc/hostname -o -path /etc/resolv.conf -o -path /run -o -path /.dockerenv \\) -prune -o -print | sort | while read p; do stat -c '%n %F %a %u:%g %s' \"$p\"; done";
// runtimes differ on / and /tmp (mount points); docker adds /.dockerenv and /etc/mtab (-> /proc/mounts)
// when it starts a container, as podman does; the rest must match
const keep = (l: string) => l !== '' && !l.startsWith('/tmp ') && !l.startsWith('/ ') && !l.startsWith('/.dockerenv ') && !l.startsWith('/etc/mtab ');
const listing = (s: string) => s.split('\n').filter(keep);

describe('docker interop', () => {
  before(() => {
    tr = tempRoot('tsrun-docker-');
    importBusybox(tr.root);
    dk = startDockerd(path.join(tr.scratch, 'dockerd'));
    // docker gets the same busybox image tsrun has
    const bb = path.join(tr.scratch, 'busybox.tar');
    tsrunOk(tr.root, ['save', '-o', bb, 'busybox']);
    dk.docker(['load', '-i', bb]);
  });
  after(() => {
    dk?.stop();
    tr?.cleanup();
  });

  test('tsrun commit + save → docker load + run: the committed file, the same filesystem', () => {
    tsrunOk(tr.root, ['run', '--name', 'src', '--network', 'none', 'busybox', 'sh', '-c', `${CHANGES} && echo committed-by-tsrun > /greeting`]);
    tsrunOk(tr.root, ['commit', '-c', 'CMD ["cat", "/greeting"]', 'src', 'localhost/from-tsrun:1']);
    const archive = path.join(tr.scratch, 'from-tsrun.tar');
    tsrunOk(tr.root, ['save', '-o', archive, 'localhost/from-tsrun:1']);
    const loaded = dk!.docker(['load', '-i', archive]).stdout;
    assert.match(loaded, /Loaded image: localhost\/from-tsrun:1/);
    assert.equal(dk!.docker(['run', '--rm', '--network', 'none', 'localhost/from-tsrun:1']).stdout, 'committed-by-tsrun\n');
    const ours = tsrunOk(tr.root, ['run', '--rm', '--network', 'none', 'localhost/from-tsrun:1', 'sh', '-c', LIST]);
    const theirs = dk!.docker(['run', '--rm', '--network', 'none', 'localhost/from-tsrun:1', 'sh', '-c', LIST]).stdout;
    assert.ok(!ours.includes('/bin/ls '), 'the deletion is in the image');
    assert.ok(ours.includes('/home/app/only '), 'the opaque dir is');
    assert.deepEqual(listing(theirs), listing(ours));
    // docker reads the history tsrun wrote: the import row and the commit row
    const hist = dk!.docker(['history', '-q', '--no-trunc', 'localhost/from-tsrun:1']).stdout.trim().split('\n');
    assert.equal(hist.length, 2, hist.join('\n'));
  });

  test('docker commit + save → tsrun load + run: the committed file, the same filesystem', () => {
    dk!.docker(['run', '--name', 'dsrc', '--network', 'none', 'busybox', 'sh', '-c', `${CHANGES} && echo committed-by-docker > /greeting`]);
    dk!.docker(['commit', '-c', 'CMD ["cat", "/greeting"]', 'dsrc', 'localhost/from-docker:1']);
    const archive = path.join(tr.scratch, 'from-docker.tar');
    dk!.docker(['save', '-o', archive, 'localhost/from-docker:1']);
    tsrunOk(tr.root, ['load', '-i', archive]);
    assert.equal(tsrunOk(tr.root, ['run', '--rm', '--network', 'none', 'localhost/from-docker:1']), 'committed-by-docker\n');
    const ours = tsrunOk(tr.root, ['run', '--rm', '--network', 'none', 'localhost/from-docker:1', 'sh', '-c', LIST]);
    const theirs = dk!.docker(['run', '--rm', '--network', 'none', 'localhost/from-docker:1', 'sh', '-c', LIST]).stdout;
    assert.ok(!ours.includes('/bin/ls '), "docker's whiteout is honoured");
    assert.ok(ours.includes('/home/app/only '), "docker's opaque dir is");
    assert.deepEqual(listing(ours), listing(theirs));
    // the image ID is the config digest on both sides
    const id = dk!.docker(['image', 'inspect', '-f', '{{.Id}}', 'localhost/from-docker:1']).stdout.trim();
    assert.equal(JSON.parse(tsrunOk(tr.root, ['image', 'inspect', 'localhost/from-docker:1']))[0].Id, id);
  });
});
