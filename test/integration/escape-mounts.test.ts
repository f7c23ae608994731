/**
 * Volumes as an attacker uses them: a `:ro` bind whose target another
 * container swaps for a symlink while it is set up, read-only binds with
 * mounts below them (-v /:/host:ro), and an image symlink that points a
 * volume at the container's root. No host file is ever changed by these
 * tests: writes go to a tmpfs the test mounted, and core_pattern is only
 * opened (and closed) for writing.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempRoot, tsrun, tsrunOk, importBusybox, busyboxTar, mountsUnder } from '../helpers/cli.js';
import { buildSwapper } from '../helpers/swapper.js';
import { until } from '../helpers/wait.js';

const t = tempRoot('tsrun-mountrace-');
const bin = path.join(t.scratch, 'bin');

before(() => {
  buildSwapper(bin);
  importBusybox(t.root);
});
after(() => t.cleanup());

describe('volumes cannot be turned against the host', () => {
  it('a :ro volume stays read-only while another container swaps its target for a symlink', () => {
    const shared = path.join(t.scratch, 'shared');
    const rodir = path.join(t.scratch, 'rodir');
    fs.mkdirSync(path.join(shared, 'sub'), { recursive: true });
    fs.symlinkSync('/shared', path.join(shared, 'alt'));
    fs.mkdirSync(rodir);
    fs.writeFileSync(path.join(rodir, 'keep'), 'read-only');
    // the attacker shares the parent volume and swaps sub (a dir) and alt (-> /shared) without pause
    tsrunOk(t.root, ['run', '-d', '--name', 'swapper', '-v', `${shared}:/shared`, '-v', `${bin}:/tbin:ro`, 'busybox', '/tbin/swap', '120', '/shared/sub', '/shared/alt']);
    try {
      let started = 0;
      const write = 'for i in 1 2 3 4 5 6 7 8; do touch /shared/sub/PWNED /shared/alt/PWNED; done 2>/dev/null; echo started';
      for (let i = 0; i < 30; i++) {
        const r = tsrun(t.root, ['run', '--rm', '-v', `${shared}:/shared`, '-v', `${rodir}:/shared/sub:ro`, 'busybox', 'sh', '-c', write]);
        if (r.stdout.includes('started')) started++;
        else assert.match(r.stderr, /^tsrun: [^\n]+\n$/, `a start that fails says why in one line: ${r.stderr}`);
        assert.deepEqual(fs.readdirSync(rodir), ['keep'], `run ${i}: nothing written into the :ro host directory`);
      }
      assert.ok(started >= 10, `most runs start (${started} of 30)`);
    } finally {
      tsrun(t.root, ['rm', '-f', 'swapper']);
    }
  });

  it('ro is recursive: -v /:/host:ro leaves no mount below /host writable', () => {
    const hostdir = path.join(t.scratch, 'hostdir');
    const sub = path.join(hostdir, 'sub');
    fs.mkdirSync(sub, { recursive: true });
    // a mount below the volume's source that the test owns: the only place a failing run can write
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tsrun-test', sub]);
    assert.equal(m.status, 0, `mount a tmpfs for the probe: ${m.stderr}`);
    try {
      fs.writeFileSync(path.join(sub, 'probe'), 'untouched');
      const probe = [
        // open for writing and close without a byte written: EROFS is the answer
        '( exec 3>>/host/proc/sys/kernel/core_pattern ) 2>/dev/null && echo OPENED-core_pattern',
        '( exec 3>>/host/sys/kernel/uevent_helper ) 2>/dev/null && echo OPENED-uevent_helper',
        `echo pwned > /host${sub}/probe && echo WROTE-tmpfs`,
        `echo pwned > /v/sub/probe && echo WROTE-tmpfs-v`,
        'echo done',
      ].join('; ');
      const r = tsrun(t.root, ['run', '--rm', '-v', '/:/host:ro', '-v', `${hostdir}:/v:ro`, 'busybox', 'sh', '-c', probe]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^done$/m);
      assert.doesNotMatch(r.stdout, /OPENED|WROTE/);
      assert.equal(fs.readFileSync(path.join(sub, 'probe'), 'utf8'), 'untouched');
      // rw volumes keep their mounts below writable, as docker's
      const rw = tsrun(t.root, ['run', '--rm', '-v', `${hostdir}:/v`, 'busybox', 'sh', '-c', 'echo rw > /v/sub/probe && echo WROTE']);
      assert.match(rw.stdout, /WROTE/, rw.stderr);
    } finally {
      spawnSync('umount', ['-l', sub]);
    }
  });

  it('an image symlink to / as a volume target is refused, with nothing left mounted', async () => {
    const img = path.join(t.scratch, 'rootlink.tar');
    const stage = path.join(t.scratch, 'rootlink');
    fs.mkdirSync(stage);
    fs.symlinkSync('/', path.join(stage, 'x'));
    fs.symlinkSync('../x/.', path.join(stage, 'y'));
    fs.copyFileSync(busyboxTar(), img);
    const tar = spawnSync('tar', ['-rf', img, '-C', stage, 'x', 'y']);
    assert.equal(tar.status, 0, `append the symlinks: ${tar.stderr}`);
    tsrunOk(t.root, ['import', img, 'rootlink:1']);
    const victim = path.join(t.scratch, 'victim');
    fs.mkdirSync(victim);
    const containersBefore = tsrunOk(t.root, ['ps', '-a', '-q', '--no-trunc']);
    for (const [flag, target] of [['-v', `${victim}:/x`], ['-v', `${victim}:/y:ro`], ['--tmpfs', '/x']] as const) {
      const r = tsrun(t.root, ['run', '--rm', flag, target, 'rootlink:1', 'sh', '-c', 'echo STARTED; touch /pwned']);
      assert.equal(r.code, 125, `${target}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^tsrun: cannot mount on \/[xy]: it resolves to the container's root [^\n]+\n$/);
      assert.doesNotMatch(r.stdout, /STARTED/);
    }
    assert.deepEqual(fs.readdirSync(victim), []);
    assert.deepEqual(mountsUnder(t.root), [], 'nothing left mounted');
    // --rm of a start that failed: the record goes (its cgroup removal may lag a moment on a loaded machine)
    await until('the refused containers are removed', () => tsrunOk(t.root, ['ps', '-a', '-q', '--no-trunc']) === containersBefore, 60_000);
  });
});
