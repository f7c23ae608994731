/**
 * exec's output: a process's stdout and stderr reach the caller's stdout and
 * stderr; when those are one file (2>&1, a terminal, a healthcheck probe's one
 * pipe) the process gets one pipe for both, so the lines keep the order it
 * wrote them in. Two pipes copied side by side interleave at random (a
 * project CI run saw a shell's `+ echo checked` trace split by the command's
 * own output).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TSRUN, tsrun, tsrunOk, useBusyboxRoot } from '../helpers/cli.js';

const t = useBusyboxRoot();
const root = () => t().root;
// many short writes, alternating streams: copied through two pipes, whole runs of one stream
// arrive before the other's (every read takes all a pipe has)
const SCRIPT = 'i=0; while [ $i -lt 300 ]; do echo o$i; echo e$i >&2; i=$((i+1)); done';
const expected = (streams: string[]) => Array.from({ length: 300 }, (_, i) => streams.map((s) => `${s}${i}\n`).join('')).join('');

test('exec with stdout and stderr one file: one pipe, the order the process wrote', () => {
  tsrunOk(root(), ['run', '-d', '--network', 'none', '--name', 'eo', 'busybox', 'sleep', '600']);
  try {
    const file = path.join(t().scratch, 'both.out');
    for (let round = 0; round < 3; round++) {
      const fd = fs.openSync(file, 'w');
      let r;
      try {
        r = spawnSync(process.execPath, ['--', TSRUN, '--root', root(), 'exec', 'eo', 'sh', '-c', SCRIPT], { stdio: ['ignore', fd, fd], timeout: 300_000 });
      } finally {
        fs.closeSync(fd);
      }
      assert.equal(r.status, 0);
      assert.equal(fs.readFileSync(file, 'utf8'), expected(['o', 'e']), `round ${round}`);
    }
    // apart, each stream has its own lines only
    const apart = tsrun(root(), ['exec', 'eo', 'sh', '-c', SCRIPT]);
    assert.equal(apart.code, 0);
    assert.equal(apart.stdout, expected(['o']));
    assert.equal(apart.stderr, expected(['e']));
  } finally {
    tsrun(root(), ['rm', '-f', 'eo']);
  }
});
