/**
 * A committed image (adds, changes, deletions, an opaque dir) read by peers:
 *  - `tsrun save` → `podman load` → `podman run` lists the same filesystem as `tsrun run`;
 *  - `tsrun save --format oci-archive` → `umoci unpack` gives the same rootfs tree.
 * Fails when `tsrun run` does not work; skipped only when the peer is not installed.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrunOk, importBusybox, type TempRoot } from '../helpers/cli.js';
import { podman, have, sh, type Podman } from '../helpers/peers.js';

let tr: TempRoot;
let pm: Podman | undefined;

const CHANGES = 'echo changed > /etc/issue && echo new > /added && rm /bin/ls && rm -rf /home/app && mkdir /home/app && echo only > /home/app/only && ln -s /added /sym && echo s > /suid && chmod 4755 /suid';
/** A listing of what matters: every path outside the pseudo filesystems with type, mode, owner and size. */
const LIST = "find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /etc/hosts -o -path /etc/hostname -o -path /etc/resolv.conf -o -path /run \\) -prune -o -print | sort | while read p; do stat -c '%n %F %a %u:%g %s' \"$p\"; done";

describe('commit interop', () => {
  before(() => {
    tr = tempRoot();
    importBusybox(tr.root);
    // a broken `run` must fail these tests, not skip them: the probe throws with run's error
    tsrunOk(tr.root, ['run', '--rm', 'busybox', 'true']);
    tsrunOk(tr.root, ['run', '--name', 'src', 'busybox', 'sh', '-c', CHANGES]);
    tsrunOk(tr.root, ['commit', 'src', 'localhost/committed:1']);
  });
  after(() => {
    pm?.cleanup();
    tr?.cleanup();
  });

  test('podman load + run sees the same filesystem as tsrun run, deletions included', (t) => {
    if (!have('podman')) return t.skip('podman is not installed');
    const archive = path.join(tr.scratch, 'docker.tar');
    tsrunOk(tr.root, ['save', '-o', archive, 'localhost/committed:1']);
    pm = podman(tr.scratch);
    pm.run(['load', '-i', archive]);
    const ours = tsrunOk(tr.root, ['run', '--rm', 'localhost/committed:1', 'sh', '-c', LIST]);
    const theirs = pm.run(['run', '--rm', 'localhost/committed:1', 'sh', '-c', LIST]).stdout;
    assert.ok(!ours.includes('/bin/ls '), 'deleted in ours');
    assert.ok(ours.includes('/home/app/only'), 'opaque dir contents');
    // podman adds /etc/mtab (a symlink to /proc/mounts) at run time; / and /tmp get runtime mounts
    const keep = (l: string) => !l.startsWith('/tmp ') && !l.startsWith('/ ') && !l.startsWith('/etc/mtab ');
    assert.deepEqual(theirs.split('\n').filter(keep), ours.split('\n').filter(keep));
  });

  test('umoci unpack of the oci-archive gives the same rootfs as tsrun run', (t) => {
    if (!have('umoci')) return t.skip('umoci is not installed');
    const archive = path.join(tr.scratch, 'oci.tar');
    tsrunOk(tr.root, ['save', '--format', 'oci-archive', '-o', archive, 'localhost/committed:1']);
    const layout = path.join(tr.scratch, 'layout');
    fs.mkdirSync(layout);
    sh('tar', ['-xf', archive, '-C', layout]);
    const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { annotations?: Record<string, string> }[] };
    const tag = index.manifests[0]?.annotations?.['org.opencontainers.image.ref.name'] ?? '1';
    const bundle = path.join(tr.scratch, 'bundle');
    sh('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
    const rootfs = path.join(bundle, 'rootfs');
    const listHost = sh('sh', ['-c', `cd ${rootfs} && find . \\( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run \\) -prune -o -print | sort | while read p; do stat -c '%n %F %a %u:%g %s' "$p"; done`]).stdout;
    const ours = tsrunOk(tr.root, ['run', '--rm', 'localhost/committed:1', 'sh', '-c', LIST]);
    const norm = (s: string) =>
      s
        .split('\n')
        .map((l) => l.replace(/^\.\//, '/'))
        .filter((l) => l && !l.startsWith('. ') && !l.startsWith('/ ') && !l.startsWith('/tmp ') && !/^\/etc\/(hosts|hostname|resolv\.conf) /.test(l))
        .sort();
    assert.deepEqual(norm(listHost), norm(ours));
  });
});
