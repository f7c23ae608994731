/**
 * commit and diff through the real CLI, on containers whose records and upper
 * dirs the test makes by hand (fakeCreate/fakeRun): no dependency on `run`.
 * The committed image is checked through a read-only overlay of its layers —
 * the filesystem a container of it would see.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, tsrunOk, importBusybox, snapshotTree, mountsUnder, type TempRoot } from '../helpers/cli.js';
import { fakeCreate, fakeRun } from './lifecycle-fake-launcher.js';
import { openCtx } from '../../src/context.js';
import { ensureImageLayers } from '../../src/images/unpack.js';
import { native, MNT_DETACH } from '../../src/native.js';
import { MT } from '../../src/oci/mediatypes.js';
import { cgroupFrozen } from '../../src/runtime/cgroups.js';
import { procState } from '../../src/containers/status.js';
import { alive } from '../helpers/proc.js';

let tr: TempRoot;
let root: string;

const whiteout = (abs: string) => native().mknod(abs, fs.constants.S_IFCHR, 0, 0);
const CAP = Buffer.from('0000000200200000000000000000000000000000', 'hex');

/** Run fn on the merged filesystem of an image (its layers as a read-only overlay). */
async function withImageFs<T>(ref: string, fn: (dir: string) => T): Promise<T> {
  const ctx = openCtx(root);
  const img = ctx.images.get(ref);
  await ensureImageLayers(ctx, img.manifest, img.config); // commit only registers its layer; a container would unpack it
  const mnt = fs.mkdtempSync(path.join(tr.scratch, 'mnt-'));
  const lowers = [...img.chainIds].reverse().map((c) => ctx.layers.diffDir(c));
  if (lowers.length === 1) lowers.push(fs.mkdtempSync(path.join(tr.scratch, 'empty-'))); // overlay wants two lowers without an upper
  native().mountOverlay(mnt, { lowerdirs: lowers, readonly: true, options: { index: 'off' } });
  try {
    return fn(mnt);
  } finally {
    native().umount2(mnt, MNT_DETACH);
  }
}

function image(ref: string) {
  return openCtx(root).images.get(ref);
}

function fillUpper(upper: string): void {
  fs.mkdirSync(path.join(upper, 'etc'));
  fs.writeFileSync(path.join(upper, 'etc/issue'), 'changed\n'); // changed
  fs.writeFileSync(path.join(upper, 'added'), 'new file\n'); // added
  fs.mkdirSync(path.join(upper, 'bin'));
  whiteout(path.join(upper, 'bin/ls')); // deleted
  fs.mkdirSync(path.join(upper, 'home'));
  fs.mkdirSync(path.join(upper, 'home/app')); // deleted then recreated: opaque
  native().lsetxattr(path.join(upper, 'home/app'), 'trusted.overlay.opaque', Buffer.from('y'), 0);
  fs.writeFileSync(path.join(upper, 'home/app/only'), 'only\n');
  fs.writeFileSync(path.join(upper, 'hl1'), 'linked\n'); // hardlinks
  fs.linkSync(path.join(upper, 'hl1'), path.join(upper, 'hl2'));
  fs.writeFileSync(path.join(upper, 'suid'), '#!/bin/sh\n');
  fs.chmodSync(path.join(upper, 'suid'), 0o4755);
  native().mknod(path.join(upper, 'fifo'), fs.constants.S_IFIFO | 0o644, 0, 0);
  fs.symlinkSync('/added', path.join(upper, 'sym'));
  fs.writeFileSync(path.join(upper, 'capped'), 'x');
  native().lsetxattr(path.join(upper, 'capped'), 'security.capability', CAP, 0);
  fs.writeFileSync(path.join(upper, 'owned'), 'o');
  fs.chownSync(path.join(upper, 'owned'), 1000, 1000);
  fs.writeFileSync(path.join(upper, 'dated'), 'd');
  fs.utimesSync(path.join(upper, 'dated'), 946684800, 946684800);
  fs.writeFileSync(path.join(upper, 'etc/hostname'), ''); // a tsrun mount point: never committed
}

describe('commit (hand-made upper dirs)', () => {
  before(() => {
    tr = tempRoot();
    root = tr.root;
    importBusybox(root);
  });
  after(() => tr.cleanup());

  test('every entry kind survives commit and is seen in the new image', async () => {
    const { id, dir } = fakeCreate(root, ['/bin/sh', '-c', 'echo hi']);
    fillUpper(path.join(dir, 'upper'));
    const out = tsrunOk(root, ['commit', id, 'kinds:1']).trim();
    assert.match(out, /^sha256:[a-f0-9]{64}$/);
    const img = image('kinds:1');
    assert.equal(img.record.id, out);
    assert.equal(img.config.rootfs.diff_ids.length, 2);
    const h = img.config.history!.at(-1)!;
    assert.equal(h.created_by, '/bin/sh -c echo hi');
    assert.equal(h.empty_layer, undefined);
    await withImageFs('kinds:1', (m) => {
      assert.equal(fs.readFileSync(path.join(m, 'etc/issue'), 'utf8'), 'changed\n');
      assert.equal(fs.readFileSync(path.join(m, 'added'), 'utf8'), 'new file\n');
      assert.ok(!fs.existsSync(path.join(m, 'bin/ls')), 'deleted file stays deleted');
      assert.ok(fs.existsSync(path.join(m, 'bin/cat')), 'its siblings stay');
      assert.deepEqual(fs.readdirSync(path.join(m, 'home/app')), ['only'], 'opaque dir holds only the new contents');
      assert.equal(fs.statSync(path.join(m, 'hl1')).nlink, 2);
      assert.equal(fs.statSync(path.join(m, 'hl1')).ino, fs.statSync(path.join(m, 'hl2')).ino);
      assert.equal(fs.statSync(path.join(m, 'suid')).mode & 0o7777, 0o4755);
      assert.ok(fs.lstatSync(path.join(m, 'fifo')).isFIFO());
      assert.equal(fs.readlinkSync(path.join(m, 'sym')), '/added');
      assert.ok(native().lgetxattr(path.join(m, 'capped'), 'security.capability')?.equals(CAP));
      assert.equal(fs.statSync(path.join(m, 'owned')).uid, 1000);
      assert.equal(fs.statSync(path.join(m, 'dated')).mtimeMs, 946684800000);
      assert.ok(!fs.existsSync(path.join(m, 'etc/hostname')), 'mount point placeholders are not committed');
    });
    // the blob in the content store is the uncompressed tar whose digest is the diff_id
    const layerDesc = img.manifest.layers.at(-1)!;
    assert.equal(layerDesc.digest, img.config.rootfs.diff_ids.at(-1));
    assert.equal(layerDesc.mediaType, MT.OCI_LAYER);
    assert.equal(img.manifest.mediaType, MT.OCI_MANIFEST);
  });

  test('diff lists A/C/D like docker, sorted, and --format json', () => {
    const { id, dir } = fakeCreate(root, ['/bin/sh']);
    fillUpper(path.join(dir, 'upper'));
    const lines = tsrunOk(root, ['diff', id]).trim().split('\n');
    for (const want of ['C /etc', 'C /etc/issue', 'A /added', 'D /bin/ls', 'C /home/app', 'A /home/app/only', 'A /fifo']) assert.ok(lines.includes(want), `${want} in ${lines.join('|')}`);
    assert.ok(!lines.some((l) => l.includes('hostname')));
    assert.deepEqual([...lines].sort((a, b) => (a.slice(2) < b.slice(2) ? -1 : 1)), lines);
    const j = JSON.parse(tsrunOk(root, ['diff', '--format', 'json', id])) as Record<string, string[]>;
    assert.ok(j.deleted!.includes('/bin/ls'));
    assert.ok(j.added!.includes('/added'));
  });

  test('empty diff: no layer, an empty_layer history entry, same diff_ids', () => {
    const { id, dir } = fakeCreate(root, ['/bin/true']);
    fs.mkdirSync(path.join(dir, 'upper/etc'));
    fs.writeFileSync(path.join(dir, 'upper/etc/hosts'), ''); // only tsrun's mount point
    tsrunOk(root, ['commit', '-m', 'nothing', id, 'empty:1']);
    const base = image('busybox');
    const img = image('empty:1');
    assert.deepEqual(img.config.rootfs.diff_ids, base.config.rootfs.diff_ids);
    assert.equal(img.manifest.layers.length, base.manifest.layers.length);
    const h = img.config.history!.at(-1)!;
    assert.equal(h.empty_layer, true);
    assert.equal(h.comment, 'nothing');
  });

  test('--change, --author, --message land in the config; --format docker media types; -q and --iidfile', () => {
    const { id, dir } = fakeCreate(root, ['/bin/sh']);
    fs.writeFileSync(path.join(dir, 'upper/f'), 'f');
    const iid = path.join(tr.scratch, 'iid');
    const out = tsrunOk(root, [
      'commit', '-q', '--iidfile', iid, '--format', 'docker', '-a', 'Jane <j@x>', '-m', 'msg',
      '-c', 'CMD ["cat","/f"]', '-c', 'ENV A=1 B=2', '-c', 'WORKDIR /srv', '-c', 'USER 1000', '-c', 'ENTRYPOINT ["/bin/sh","-c"]', '-c', 'EXPOSE 80',
      id, 'changed:1',
    ]).trim();
    assert.equal(fs.readFileSync(iid, 'utf8'), out);
    const img = image('changed:1');
    const c = img.config.config!;
    assert.deepEqual(c.Cmd, ['cat', '/f']);
    assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c']);
    assert.ok(c.Env!.includes('A=1') && c.Env!.includes('B=2'));
    assert.equal(c.WorkingDir, '/srv');
    assert.equal(c.User, '1000');
    assert.deepEqual(c.ExposedPorts, { '80/tcp': {} });
    assert.equal(img.config.author, 'Jane <j@x>');
    assert.equal(img.config.history!.at(-1)!.comment, 'msg');
    assert.equal(img.manifest.mediaType, MT.DOCKER_MANIFEST);
    assert.equal(img.manifest.config.mediaType, MT.DOCKER_CONFIG);
    assert.ok(img.manifest.layers.every((l) => l.mediaType.startsWith('application/vnd.docker.image.rootfs.diff.tar')));
  });

  test('--squash: one layer with the whole filesystem, history kept', async () => {
    const { id, dir } = fakeCreate(root, ['/bin/sh']);
    fillUpper(path.join(dir, 'upper'));
    // what a squash killed with SIGKILL leaves: its merged-view mount under ROOT/tmp, named by a dead PID
    let deadPid = 4_000_000;
    while (fs.existsSync(`/proc/${deadPid}`)) deadPid++;
    const stale = path.join(root, 'tmp', `${deadPid}-squash-dead`);
    fs.mkdirSync(stale);
    native().mount('tmpfs', stale, 'tmpfs', 0, 'size=1m');
    tsrunOk(root, ['commit', '--squash', id, 'squashed:1']);
    assert.deepEqual(mountsUnder(path.join(root, 'tmp')), [], 'the dead squash mount was swept');
    assert.equal(fs.existsSync(stale), false);
    const img = image('squashed:1');
    const base = image('busybox');
    assert.equal(img.config.rootfs.diff_ids.length, 1);
    assert.equal(img.manifest.layers.length, 1);
    assert.equal(img.config.history!.length, base.config.history!.length + 1);
    assert.ok(img.config.history!.slice(0, -1).every((h) => h.empty_layer === true));
    const list = (m: string) => {
      const out: string[] = [];
      const walk = (rel: string) => {
        for (const n of fs.readdirSync(path.join(m, rel)).sort()) {
          const r = rel ? `${rel}/${n}` : n;
          const st = fs.lstatSync(path.join(m, r));
          out.push(`${r} ${st.mode.toString(8)} ${st.uid} ${st.size}`);
          if (st.isDirectory()) walk(r);
        }
      };
      walk('');
      return out;
    };
    const { id: id2, dir: dir2 } = fakeCreate(root, ['/bin/sh']);
    fillUpper(path.join(dir2, 'upper'));
    tsrunOk(root, ['commit', id2, 'unsquashed:1']);
    assert.deepEqual(await withImageFs('squashed:1', list), await withImageFs('unsquashed:1', list));
  });

  test('--timestamp: the same change in two containers gives the same layer and the same image ID', () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { id, dir } = fakeCreate(root, ['/bin/sh', '-c', 'echo same > /same']);
      fs.writeFileSync(path.join(dir, 'upper/same'), 'same\n');
      ids.push(tsrunOk(root, ['commit', '--timestamp', '1700000000', id]).trim());
    }
    assert.equal(ids[0], ids[1]);
    const img = image(ids[0]!);
    assert.equal(img.config.created, '2023-11-14T22:13:20.000Z');
    // and SOURCE_DATE_EPOCH does the same
    const { id, dir } = fakeCreate(root, ['/bin/sh', '-c', 'echo same > /same']);
    fs.writeFileSync(path.join(dir, 'upper/same'), 'same\n');
    assert.equal(tsrunOk(root, ['commit', id], { env: { SOURCE_DATE_EPOCH: '1700000000' } }).trim(), ids[0]);
  });

  test('a running container keeps running, with and without --pause, and is not left frozen', async () => {
    const c = await fakeRun(root, ['sleep', '1000']);
    fs.writeFileSync(path.join(c.dir, 'upper/live'), 'x');
    tsrunOk(root, ['commit', c.id, 'live:1']);
    tsrunOk(root, ['commit', '--pause=false', c.id, 'live:2']);
    assert.equal(JSON.parse(fs.readFileSync(path.join(c.dir, 'state.json'), 'utf8')).status, 'running');
    assert.ok(!cgroupFrozen(c.id, openCtx(root)));
    // still alive and not stopped (procState never throws: a process that died reads as gone, not ESRCH)
    assert.ok(alive(c.pid), 'the container process is alive');
    assert.notEqual(procState(c.pid), 'T');
    tsrun(root, ['rm', '-f', c.id]);
  });

  test('bad input: one line, non-zero, store unchanged', () => {
    const { id } = fakeCreate(root, ['/bin/sh']);
    const cases: [string, string[]][] = [
      ['unknown container', ['commit', 'nosuchcontainer', 'x:1']],
      ['bad --change', ['commit', '-c', 'FROB x', id, 'x:1']],
      ['bad reference', ['commit', id, 'UPPER/Case:bad tag']],
      ['bad --format', ['commit', '--format', 'zip', id]],
      ['bad --timestamp', ['commit', '--timestamp', 'soon', id]],
      ['diff of unknown container', ['diff', 'nosuchcontainer']],
    ];
    for (const [what, args] of cases) {
      const before = snapshotTree(root);
      const r = tsrun(root, args);
      assert.notEqual(r.code, 0, what);
      assert.match(r.stderr, /^tsrun: [^\n]+\n$/, `${what}: ${r.stderr}`);
      assert.deepEqual(snapshotTree(root), before, what);
    }
  });

  test('past 500 layers: a clear error that suggests --squash, and nothing stored', () => {
    // a parent with 500 layers, faked in the store (its layer dirs never need to exist for this check)
    const ctx = openCtx(root);
    const base = ctx.images.get('busybox');
    const d = base.config.rootfs.diff_ids[0]!;
    const config = { ...base.config, rootfs: { type: 'layers' as const, diff_ids: Array.from({ length: 500 }, () => d) } };
    const bytes = Buffer.from(JSON.stringify(config));
    const cfg = ctx.content.putBytes(bytes);
    const manifest = { ...base.manifest, config: { ...base.manifest.config, digest: cfg.digest, size: cfg.size }, layers: Array.from({ length: 500 }, () => base.manifest.layers[0]!) };
    const man = ctx.content.putBytes(JSON.stringify(manifest));
    ctx.images.add({ id: cfg.digest, manifest: man.digest, mediaType: MT.OCI_MANIFEST }, ['docker.io/library/fat:500']);
    const { id, dir } = fakeCreate(root, ['/bin/sh'], { image: 'fat:500' });
    fs.writeFileSync(path.join(dir, 'upper/x'), 'x');
    const before = snapshotTree(root);
    const r = tsrun(root, ['commit', id, 'fat:501']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^tsrun: .*500.*--squash.*\n$/);
    assert.deepEqual(snapshotTree(root), before);
  });
});
