/**
 * 130 commits in a chain: each run (not --rm) writes /n on the previous image
 * and is committed into the next one; the last image's /n says 130. Checks
 * that commit of a tiny diff stays fast and that deep layer stacks run.
 * Fails (never skips) when `tsrun run` does not work on this machine.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tempRoot, tsrunOk, importBusybox, type TempRoot } from '../helpers/cli.js';

let tr: TempRoot;

before(() => {
  tr = tempRoot();
  importBusybox(tr.root);
  // a broken `run` must fail these tests, not skip them: the probe throws with run's error
  tsrunOk(tr.root, ['run', '--rm', 'busybox', 'true']);
});
after(() => tr?.cleanup());

test('130 chained commits; the last image sees /n = 130', { timeout: 540_000 }, (t) => {
  let image = 'busybox';
  let commitMs = 0;
  for (let n = 1; n <= 130; n++) {
    const name = `chain${n}`;
    // no network: its setup and teardown (netavark) would be most of each step on a busy machine
    tsrunOk(tr.root, ['run', '--network', 'none', '--name', name, image, 'sh', '-c', `echo ${n} > /n`]);
    const t0 = performance.now();
    image = tsrunOk(tr.root, ['commit', '-q', name]).trim();
    commitMs += performance.now() - t0;
  }
  assert.equal(tsrunOk(tr.root, ['run', '--rm', '--network', 'none', image, 'cat', '/n']).trim(), '130');
  // removed in one command, not one each: 130 fewer CLI starts keep the file well inside the
  // runner's per-file timeout on a slow, busy machine
  tsrunOk(tr.root, ['rm', ...Array.from({ length: 130 }, (_, i) => `chain${i + 1}`)]);
  assert.equal(tsrunOk(tr.root, ['ps', '-aq']), '');
  t.diagnostic(`mean commit time: ${(commitMs / 130).toFixed(0)} ms`);
});
