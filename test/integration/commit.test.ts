/**
 * commit through real containers: changes made inside a container by `tsrun
 * run` are committed, then checked from inside a container of the new image.
 * (commit-upper.test.ts covers the same ground with hand-made upper dirs.)
 * Fails (never skips) when `tsrun run` does not work on this machine.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, tsrunOk, importBusybox, snapshotTree, type TempRoot } from '../helpers/cli.js';
import { openCtx } from '../../src/context.js';
import { findContainer } from '../../src/containers/record.js';
import { native } from '../../src/native.js';
import { until } from '../helpers/wait.js';

let tr: TempRoot;
const CAP = Buffer.from('0000000200200000000000000000000000000000', 'hex');

const SCRIPT = [
  'echo changed > /etc/issue',
  'echo new > /added',
  'rm /bin/ls',
  'rm -rf /home/app && mkdir -p /home/app && echo only > /home/app/only',
  'echo linked > /hl1 && ln /hl1 /hl2',
  'echo x > /suid && chmod 4755 /suid',
  'mkfifo /fifo',
  'ln -s /added /sym',
  'echo o > /owned && chown 1000:1000 /owned',
  'echo d > /dated && touch -d "2000-01-01 00:00:00" /dated',
  'echo c > /capped',
].join(' && ');

const CHECK = [
  'cat /etc/issue /added',
  'test ! -e /bin/ls && echo ls-gone',
  'ls /home/app',
  'stat -c "%h" /hl1',
  'stat -c "%a" /suid',
  'stat -c "%F" /fifo',
  'readlink /sym',
  'stat -c "%u:%g" /owned',
  'date -u -r /dated +%Y',
].join(' && ');

function upperOf(name: string): string {
  return path.join(findContainer(openCtx(tr.root), name).dir, 'upper');
}

describe('commit (containers made by run)', () => {
  before(() => {
    tr = tempRoot();
    importBusybox(tr.root);
    // a broken `run` must fail these tests, not skip them: the probe throws with run's error
    tsrunOk(tr.root, ['run', '--rm', 'busybox', 'true']);
  });
  after(() => tr?.cleanup());

  test('every entry kind made in a container is seen by a container of the new image', () => {
    tsrunOk(tr.root, ['run', '--name', 'kinds', 'busybox', 'sh', '-c', SCRIPT]);
    // file capability: busybox has no setcap, so set it host-side in the upper dir
    native().lsetxattr(path.join(upperOf('kinds'), 'capped'), 'security.capability', CAP, 0);
    tsrunOk(tr.root, ['commit', 'kinds', 'kinds:1']);
    const out = tsrunOk(tr.root, ['run', '--rm', 'kinds:1', 'sh', '-c', CHECK]).trim().split('\n');
    assert.deepEqual(out, ['changed', 'new', 'ls-gone', 'only', '2', '4755', 'fifo', '/added', '1000:1000', '2000']);
    // the capability is in the new image's layer (read from the layer store: busybox cannot read xattrs)
    const ctx = openCtx(tr.root);
    const img = ctx.images.get('kinds:1');
    const top = ctx.layers.diffDir(img.chainIds.at(-1)!);
    assert.ok(native().lgetxattr(path.join(top, 'capped'), 'security.capability')?.equals(CAP));
  });

  test('empty diff: empty_layer history entry and the same diff_ids', () => {
    tsrunOk(tr.root, ['run', '--name', 'nothing', 'busybox', 'true']);
    assert.equal(tsrunOk(tr.root, ['diff', 'nothing']), '');
    tsrunOk(tr.root, ['commit', 'nothing', 'nothing:1']);
    const ctx = openCtx(tr.root);
    const img = ctx.images.get('nothing:1');
    assert.deepEqual(img.config.rootfs.diff_ids, ctx.images.get('busybox').config.rootfs.diff_ids);
    assert.equal(img.config.history!.at(-1)!.empty_layer, true);
  });

  test('--change lines are honoured by run (CMD, ENV, WORKDIR, USER, ENTRYPOINT)', () => {
    tsrunOk(tr.root, ['run', '--name', 'chg', 'busybox', 'sh', '-c', 'mkdir -p /srv && echo hi > /srv/f']);
    tsrunOk(tr.root, ['commit', '-c', 'ENV GREETING=hello', '-c', 'WORKDIR /srv', '-c', 'USER 1000', '-c', 'ENTRYPOINT ["/bin/sh","-c"]', '-c', 'CMD ["echo $GREETING $(pwd) $(id -u) $(cat f)"]', 'chg', 'chg:1']);
    assert.equal(tsrunOk(tr.root, ['run', '--rm', 'chg:1']).trim(), 'hello /srv 1000 hi');
  });

  test('--timestamp: two containers making the same change commit to the same image ID', () => {
    const ids: string[] = [];
    for (const n of ['ts1', 'ts2']) {
      tsrunOk(tr.root, ['run', '--name', n, 'busybox', 'sh', '-c', 'echo same > /same']);
      ids.push(tsrunOk(tr.root, ['commit', '-q', '--timestamp', '1700000000', n]).trim());
    }
    assert.equal(ids[0], ids[1]);
  });

  test('commit of a running container, with and without --pause, keeps it running', async () => {
    tsrunOk(tr.root, ['run', '-d', '--name', 'live', 'busybox', 'sh', '-c', 'echo up > /up; sleep 100000']);
    // /up written (its content too) before the commit that must hold it
    const up = path.join(upperOf('live'), 'up');
    await until('the container to write /up', () => fs.existsSync(up) && fs.readFileSync(up, 'utf8') === 'up\n', 60_000);
    tsrunOk(tr.root, ['commit', 'live', 'live:1']);
    tsrunOk(tr.root, ['commit', '--pause=false', 'live', 'live:2']);
    assert.match(tsrunOk(tr.root, ['ps', '--filter', 'name=live', '--format', '{{.Status}}']), /^Up/);
    assert.equal(tsrunOk(tr.root, ['run', '--rm', 'live:1', 'cat', '/up']).trim(), 'up');
    tsrunOk(tr.root, ['rm', '-f', 'live']);
  });

  test('bad input on a real container: one line, non-zero, store unchanged', () => {
    tsrunOk(tr.root, ['run', '--name', 'bad', 'busybox', 'true']);
    for (const args of [['commit', 'nosuch'], ['commit', '-c', 'NOPE x', 'bad'], ['commit', 'bad', 'Bad//ref']]) {
      const before = snapshotTree(tr.root);
      const r = tsrun(tr.root, args);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /^tsrun: [^\n]+\n$/);
      assert.deepEqual(snapshotTree(tr.root), before);
    }
  });
});
