/**
 * A detached --rm container whose store disappears under it (a test's temp root removed, a user's
 * `rm -rf` of --root): when it exits, its monitor must not run `tsrun rm -f`, which would make an
 * empty store there again (found as empty store skeletons in /tmp/tsrun-test-X/root after CI runs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tempRoot, tsrunOk, importBusybox } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { alive, containerAgentsGone } from '../helpers/proc.js';

test('a detached --rm container whose store was moved away does not make it again when it exits', async () => {
  const t = tempRoot('tsrun-autorm-gone-');
  const moved = `${t.root}.moved`;
  let id = '';
  try {
    importBusybox(t.root);
    id = tsrunOk(t.root, ['run', '-d', '--rm', '--network', 'none', 'busybox', 'sleep', '100']).trim();
    const pid = Number(tsrunOk(t.root, ['inspect', '--format', '{{.State.Pid}}', id]).trim());
    assert.ok(pid > 0);
    fs.renameSync(t.root, moved);
    process.kill(pid, 'SIGKILL');
    await until('the container process to end', () => !alive(pid), 30_000);
    // the monitor becomes `tsrun rm -f` in place (the same PID) if it removes: once it is gone, any
    // removal it would have made is over (its state.json moved with the store)
    await until('the monitor to end', () => containerAgentsGone(moved, id), 60_000);
    assert.equal(fs.existsSync(t.root), false, "the monitor's rm -f made the store again");
  } finally {
    // put the store back so tsrun removes the container's cgroup and dir, then the temp dir goes
    if (fs.existsSync(moved) && !fs.existsSync(t.root)) fs.renameSync(moved, t.root);
    if (id) tsrunOk(t.root, ['rm', '-f', id]);
    t.cleanup();
  }
});
