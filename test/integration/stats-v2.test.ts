/**
 * `stats` on a cgroup v2 layout, on this v1 host: as cgroup-v2.test.ts does,
 * each tsrun runs in a private mount namespace whose /sys/fs/cgroup is the
 * host's cgroup2 hierarchy. That hierarchy has no controllers here (they are
 * bound to v1), so it has cpu.stat and nothing of memory, io or pids: CPU %
 * comes from cpu.stat's usage_usec, the rest reads as none, and the limit is
 * the machine's. The v2 memory/io/pids files are parsed in test/unit/stats.test.ts;
 * on a v2-only host stats.test.ts reads them for real, and this file skips.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tempRoot, importBusybox, TSRUN, type CliResult, type TempRoot } from '../helpers/cli.js';
import { bytesSize } from '../../src/util/units.js';

const V2_HOST = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => / \/sys\/fs\/cgroup [^-]* - cgroup2 /.test(l));
const skip = V2_HOST ? 'the host mounts cgroup v2: stats.test.ts reads v2 files for real' : false;
// Containers here run with --network none: each command's mount namespace is private, so the netns mount
// a run makes (/run/tsrun/netns) is not seen by a later rm, which then cannot have netavark tear the
// network down, and its NAT rules would stay on the host (two networks leaked per suite run so).
const V2_SHELL = 'mount --make-rprivate / && umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$@"';

function inV2(argv: string[]): CliResult {
  const r = spawnSync('unshare', ['-m', '--', 'sh', '-c', V2_SHELL, 'sh', ...argv], { timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '', signal: r.signal };
}

describe('stats on cgroup v2', { skip }, () => {
  let t: TempRoot;
  let id = '';
  const tsrun = (args: string[]) => inV2([process.execPath, TSRUN, '--root', t.root, ...args]);
  const tsrunOk = (args: string[]) => {
    const r = tsrun(args);
    if (r.code !== 0) throw new Error(`tsrun ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  };

  before(() => {
    t = tempRoot('tsrun-stats-v2-');
    importBusybox(t.root);
  });
  after(() => {
    if (id) {
      tsrun(['rm', '-f', id]);
      inV2(['sh', '-c', `d=/sys/fs/cgroup/tsrun-${id.slice(0, 12)}; [ -d $d ] && { echo 1 > $d/cgroup.kill; sleep 0.2; rmdir $d; }; true`]);
    }
    t.cleanup();
  });

  it('reads CPU from cpu.stat of the recorded v2 cgroup; what the hierarchy lacks reads as none', () => {
    id = tsrunOk(['run', '-d', '--network', 'none', '--name', 'busy', 'busybox', 'sh', '-c', 'while :; do :; done']).trim();
    const rec = JSON.parse(fs.readFileSync(path.join(t.root, 'containers', id, 'cgroup.json'), 'utf8')) as { version: number; dirs: string[] };
    assert.equal(rec.version, 2, 'a v2 layout was recorded');
    const usage = () => Number(/^usage_usec (\d+)$/m.exec(inV2(['cat', `/sys/fs/cgroup/tsrun-${id.slice(0, 12)}/cpu.stat`]).stdout)?.[1]);
    // one reading is a 200 ms window, in which a busy machine may leave the loop less than a tenth of a
    // core: up to five readings for that
    let row: Record<string, string> = {};
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      const u0 = usage();
      row = JSON.parse(tsrunOk(['stats', '--no-stream', '--format', 'json', 'busy']).trim()) as Record<string, string>;
      assert.ok(usage() > u0, 'the loop burns CPU');
      const cpu = Number(row.CPUPerc!.replace('%', ''));
      // one busy thread: at most one CPU's 100% (a pause between a reading's two samples skews it a little)
      assert.ok(cpu <= 150, `busy on v2: ${row.CPUPerc}`);
      seen.push(row.CPUPerc!);
      if (cpu > 10) break;
    }
    assert.ok(Number(row.CPUPerc!.replace('%', '')) > 10, `busy on v2 never above 10%: ${seen.join(', ')}`);
    assert.equal(row.MemUsage, `0B / ${bytesSize(os.totalmem())}`, 'no memory controller: no usage, the machine as the limit');
    assert.equal(row.PIDs, '0', 'no pids controller');
    assert.equal(row.BlockIO, '0B / 0B');
  });
});
