/**
 * A store that does not exist is made only by the commands that add to one (run, create, pull,
 * load, import, build, network and volume create). Every other command reads it as empty and makes
 * nothing, and so do the jobs a container's monitor starts (`rm -f` for --rm, `__on-exit`, a
 * scheduled `healthcheck run`): one that started after its store was removed (a test's temp root,
 * an `rm -rf` of --root) made an empty store there again (empty /tmp/tsrun-test-X/root skeletons
 * after CI runs, dated after their test's end).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, tsrunOk, importBusybox } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { alive, containerAgentsGone } from '../helpers/proc.js';

const ID = 'a'.repeat(64);

/** [args, exit code, what stdout or stderr says] against a root that does not exist. */
const CASES: [string[], number, RegExp][] = [
  // the monitor's jobs
  [['rm', '-f', ID], 0, /^$/],
  [['__on-exit', ID], 0, /^$/],
  [['healthcheck', 'run', '--scheduled', ID], 125, /No such container/],
  // lists: empty
  [['ps', '-a'], 0, /^CONTAINER ID/],
  [['images'], 0, /^REPOSITORY/],
  [['volume', 'ls'], 0, /^DRIVER/],
  [['network', 'ls'], 0, /^NETWORK ID/],
  [['system', 'df'], 0, /^TYPE/],
  // one object: not found
  [['inspect', ID], 1, /No such object/],
  [['rm', ID], 1, /No such container/],
  [['stop', ID], 1, /No such container/],
  [['start', ID], 1, /No such container/],
  [['logs', ID], 1, /No such container/],
  [['rmi', 'busybox'], 1, /No such image/],
  [['tag', 'busybox', 'other'], 1, /No such image/],
  [['save', '-o', '/dev/null', 'busybox'], 1, /No such image/],
  [['volume', 'rm', 'v1'], 1, /no such volume/],
  [['network', 'rm', 'n1'], 1, /network n1 not found/],
  [['network', 'inspect', 'bridge'], 1, /no tsrun store at/],
  // removals: nothing to remove
  [['container', 'prune', '-f'], 0, /Total reclaimed space: 0B/],
  [['image', 'prune', '-f'], 0, /Total reclaimed space: 0B/],
  [['builder', 'prune', '-f'], 0, /Total:\s+0B|reclaimed space: 0B/],
  [['volume', 'prune', '-f'], 0, /Total reclaimed space: 0B/],
  [['system', 'prune', '-a', '-f', '--volumes'], 0, /Total reclaimed space: 0B/],
];

test('commands that read, remove or tear down make no store where there is none', () => {
  const t = tempRoot('tsrun-nostore-');
  const root = path.join(t.scratch, 'never-made');
  try {
    for (const [args, code, says] of CASES) {
      const r = tsrun(root, args);
      assert.equal(fs.existsSync(root), false, `tsrun ${args.join(' ')} made the store (${r.stderr.trim()})`);
      assert.equal(r.code, code, `tsrun ${args.join(' ')}: exit ${r.code} (${r.stderr.trim()})`);
      assert.match(r.code === 0 ? r.stdout : r.stderr, says, `tsrun ${args.join(' ')}`);
    }
    // a command that adds to a store still makes it
    importBusybox(root);
    assert.match(tsrunOk(root, ['images']), /busybox/);
  } finally {
    t.cleanup();
  }
});

/**
 * A container run with runArgs whose store is moved away while it runs; during(root, id) acts on the
 * moved-away root, then the container's process 1 is SIGKILLed and its monitor (and restart watcher)
 * waited out: no job of theirs may have made the store again. The store is put back to clean up.
 */
async function storeMovedAway(prefix: string, runArgs: string[], during: (root: string, id: string) => void): Promise<void> {
  const t = tempRoot(prefix);
  const moved = `${t.root}.moved`;
  let id = '';
  try {
    importBusybox(t.root);
    id = tsrunOk(t.root, ['run', '-d', '--network', 'none', ...runArgs, 'busybox', 'sleep', '100']).trim();
    const pid = Number(tsrunOk(t.root, ['inspect', '--format', '{{.State.Pid}}', id]).trim());
    assert.ok(pid > 0);
    fs.renameSync(t.root, moved);
    during(t.root, id);
    process.kill(pid, 'SIGKILL');
    await until('the container process to end', () => !alive(pid), 30_000);
    // a monitor that removes becomes `tsrun rm -f` in place (the same PID): once the agents the
    // record names are gone, any job they would have run is over (state.json moved with the store)
    await until('the monitor to end', () => containerAgentsGone(moved, id), 60_000);
    assert.equal(fs.existsSync(t.root), false, 'a job of the monitor made the store again');
  } finally {
    if (fs.existsSync(moved) && !fs.existsSync(t.root)) fs.renameSync(moved, t.root);
    if (id) tsrun(t.root, ['rm', '-f', id]);
    t.cleanup();
  }
}

test("a running container's store removed: its healthcheck and exit jobs, run after that, make nothing", () =>
  storeMovedAway('tsrun-nostore-jobs-', ['--restart', 'on-failure:1', '--health-cmd', 'true', '--health-interval', '1s'], (root, id) => {
    // what the monitor runs when its check on the container's dir passed just before the store went
    for (const args of [['healthcheck', 'run', '--scheduled', id], ['__on-exit', id], ['rm', '-f', id]]) {
      const r = tsrun(root, args);
      assert.equal(fs.existsSync(root), false, `tsrun ${args.join(' ')} made the store again (exit ${r.code}: ${r.stderr.trim()})`);
    }
  }));

test('a detached --rm container whose store was moved away does not make it again when it exits', () =>
  storeMovedAway('tsrun-autorm-gone-', ['--rm'], () => {}));
