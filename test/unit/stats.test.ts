/**
 * stats' pure parts on sample files (v1 and v2 layouts), docker's arithmetic
 * (memory less inactive file cache, CPU % from two samples, the memory limit
 * clamp) and go-units' printing; prune filters' parsing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { goG, bytesSize, humanSizeWithPrecision, goHumanSize, percent } from '../../src/util/units.js';
import {
  memUsageNoCache,
  parseBlkioV1,
  parseCpuList,
  parseFlatKeyed,
  parseIoStatV2,
  parseMemLimit,
  parseNetDev,
  parseSystemCpuNs,
  sampleCgroup,
} from '../../src/runtime/cgroup-stats.js';
import { computeEntries, cpuPercent, type RawSample, type StatsTarget } from '../../src/ops/stats.js';
import { parseGoDuration, parsePruneFilters, parseUntil, pruneMatches } from '../../src/ops/prune-filters.js';
import type { CgroupLayout } from '../../src/runtime/cgroups.js';
import type { Container } from '../../src/containers/record.js';

test("Go's %g as go-units uses it (%.4g, %.3g)", () => {
  const cases: [number, number, string][] = [
    [0, 4, '0'],
    [1, 4, '1'],
    [1.5, 4, '1.5'],
    [1.23456, 4, '1.235'],
    [7.7734375, 4, '7.773'],
    [1023.9, 4, '1024'],
    [999.5, 3, '1e+03'],
    [12.3456, 3, '12.3'],
    [100, 3, '100'],
    [0.000012, 3, '1.2e-05'],
  ];
  for (const [v, p, want] of cases) assert.equal(goG(v, p), want, `%.${p}g of ${v}`);
});

test("go-units BytesSize and HumanSizeWithPrecision (docker stats' columns)", () => {
  assert.equal(bytesSize(0), '0B');
  assert.equal(bytesSize(1023), '1023B');
  assert.equal(bytesSize(1024), '1KiB');
  assert.equal(bytesSize(425984), '416KiB');
  assert.equal(bytesSize(1.5 * 1024 * 1024), '1.5MiB');
  assert.equal(bytesSize(8346361856), '7.773GiB');
  assert.equal(humanSizeWithPrecision(0, 3), '0B');
  assert.equal(humanSizeWithPrecision(796, 3), '796B');
  assert.equal(humanSizeWithPrecision(1450, 3), '1.45kB');
  assert.equal(humanSizeWithPrecision(12_345_678, 3), '12.3MB');
  assert.equal(humanSizeWithPrecision(999_500, 3), '1e+03kB', 'as go-units prints it');
  assert.equal(goHumanSize(1_983_232), '1.983MB');
  assert.equal(percent(12.345), '12.35%');
  assert.equal(percent(0), '0.00%');
});

const V1_MEMORY_STAT = `cache 10391552
rss 9154560
inactive_file 16384
active_file 385024
hierarchical_memory_limit 9223372036854771712
total_cache 1596874752
total_rss 69091328
total_inactive_file 813268992
total_active_file 31000
`;

test('memory usage less cache: v1 total_inactive_file, v2 inactive_file, never below zero', () => {
  const v1 = parseFlatKeyed(V1_MEMORY_STAT);
  assert.equal(v1.total_inactive_file, 813268992);
  assert.equal(memUsageNoCache({ memUsage: 900_000_000, memStat: v1 }), 900_000_000 - 813268992);
  // v1 whose total_inactive_file is not below the usage: docker falls through to inactive_file
  assert.equal(memUsageNoCache({ memUsage: 800_000_000, memStat: v1 }), 800_000_000 - 16384);
  const v2 = parseFlatKeyed('anon 1048576\nfile 4096\ninactive_file 8192\nactive_file 0\n');
  assert.equal(memUsageNoCache({ memUsage: 1_060_000, memStat: v2 }), 1_060_000 - 8192);
  assert.equal(memUsageNoCache({ memUsage: 4096, memStat: v2 }), 4096, 'inactive_file above usage: the usage');
  assert.equal(memUsageNoCache({ memUsage: 5000, memStat: {} }), 5000);
});

test('block I/O: v1 blkio recursive files (Read/Write per device, Total ignored), v2 io.stat rbytes/wbytes', () => {
  const v1 = `8:0 Read 4096
8:0 Write 8192
8:0 Sync 12288
8:0 Async 0
8:0 Discard 0
8:0 Total 12288
8:16 Read 100
8:16 Write 1
Total 12389
`;
  assert.deepEqual(parseBlkioV1(v1), { read: 4196, write: 8193 });
  assert.deepEqual(parseBlkioV1('Total 0\n'), { read: 0, write: 0 });
  const v2 = `8:0 rbytes=1048576 wbytes=4096 rios=10 wios=1 dbytes=0 dios=0
253:0 rbytes=512 wbytes=0 rios=1 wios=0 dbytes=0 dios=0
`;
  assert.deepEqual(parseIoStatV2(v2), { read: 1049088, write: 4096 });
});

test('memory limits: v2 "max" and v1 PAGE_COUNTER_MAX are unlimited', () => {
  assert.equal(parseMemLimit('max\n'), Infinity);
  assert.equal(parseMemLimit('9223372036854771712\n'), Infinity);
  assert.equal(parseMemLimit('67108864\n'), 67108864);
});

test('host CPU time from /proc/stat (user..softirq as docker counts them, USER_HZ 100), online CPUs, net/dev without lo', () => {
  const stat = 'cpu  100 5 50 1000 10 1 2 3 7 9\ncpu0 50 2 25 500 5 0 1 1 0 0\n';
  assert.equal(parseSystemCpuNs(stat), (100 + 5 + 50 + 1000 + 10 + 1 + 2) * 1e7, 'steal, guest and guest_nice are not added');
  assert.equal(parseCpuList('0-1\n'), 2);
  assert.equal(parseCpuList('0-3,8,10-11'), 7);
  const netdev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0:    2500      20    0    0    0     0          0         0      700       7    0    0    0     0       0          0
  eth1:     100       1    0    0    0     0          0         0       10       1    0    0    0     0       0          0
`;
  assert.deepEqual(parseNetDev(netdev), { rx: 2600, tx: 710 });
});

test("CPU %: docker's calculateCPUPercentUnix (Δcpu / Δsystem × CPUs × 100; 0 unless both deltas are positive)", () => {
  assert.equal(cpuPercent(0, 0, 1e9, 2e9, 2), 100);
  assert.equal(cpuPercent(1e9, 1e9, 1.5e9, 3e9, 2), 50);
  assert.equal(cpuPercent(5, 5, 5, 10, 2), 0);
  assert.equal(cpuPercent(5, 10, 6, 10, 2), 0);
});

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-stats-unit-'));
}

function write(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), v);
}

test('sampleCgroup reads a v2 cgroup dir (cpu.stat, memory.*, io.stat, pids.current)', () => {
  const d = tmpdir();
  try {
    write(d, {
      'cpu.stat': 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n',
      'memory.current': '2097152\n',
      'memory.max': 'max\n',
      'memory.stat': 'anon 1048576\ninactive_file 524288\n',
      'io.stat': '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n',
      'pids.current': '3\n',
    });
    const layout: CgroupLayout = { version: 2, dirs: [d], byController: new Map([['', d]]) };
    const s = sampleCgroup(layout);
    assert.deepEqual({ ...s, memStat: undefined }, { cpuNs: 2.5e9, memUsage: 2097152, memLimit: Infinity, memStat: undefined, blkRead: 4096, blkWrite: 8192, pids: 3 });
    assert.equal(memUsageNoCache(s), 2097152 - 524288);
    // a cgroup without the memory, io and pids controllers (a controller-less v2 hierarchy): zeros
    for (const f of ['memory.current', 'memory.max', 'memory.stat', 'io.stat', 'pids.current']) fs.rmSync(path.join(d, f));
    const bare = sampleCgroup(layout);
    assert.equal(bare.cpuNs, 2.5e9);
    assert.equal(bare.memUsage + bare.blkRead + bare.pids, 0);
    assert.equal(bare.memLimit, Infinity);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('sampleCgroup reads v1 hierarchies (cpuacct, memory, blkio CFQ then throttle, pids)', () => {
  const d = tmpdir();
  try {
    const dir = (c: string) => path.join(d, c, 'tsrun-x');
    write(dir('cpuacct'), { 'cpuacct.usage': '123456789\n' });
    write(dir('memory'), { 'memory.usage_in_bytes': '1000000000\n', 'memory.limit_in_bytes': '67108864\n', 'memory.stat': V1_MEMORY_STAT });
    write(dir('blkio'), { 'blkio.throttle.io_service_bytes_recursive': '8:0 Read 10\n8:0 Write 20\n8:0 Total 30\nTotal 30\n' });
    write(dir('pids'), { 'pids.current': '7\n' });
    const layout: CgroupLayout = { version: 1, dirs: ['cpuacct', 'memory', 'blkio', 'pids'].map(dir), byController: new Map(['cpuacct', 'memory', 'blkio', 'pids'].map((c) => [c, dir(c)])) };
    let s = sampleCgroup(layout);
    assert.equal(s.cpuNs, 123456789);
    assert.equal(s.memLimit, 67108864);
    assert.deepEqual([s.blkRead, s.blkWrite, s.pids], [10, 20, 7]);
    assert.equal(memUsageNoCache(s), 1000000000 - 813268992);
    // a CFQ/BFQ kernel's io_service_bytes_recursive wins over the throttle file (runc's order)
    write(dir('blkio'), { 'blkio.io_service_bytes_recursive': '8:0 Read 1\n8:0 Write 2\n' });
    s = sampleCgroup(layout);
    assert.deepEqual([s.blkRead, s.blkWrite], [1, 2]);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('computeEntries: CPU from two readings, the limit clamped to the machine, a stopped container reads zeros', () => {
  const mk = (id: string, status: 'running' | 'exited'): StatsTarget => ({
    ref: id,
    container: { dir: '', config: { id, name: `n-${id}` } as Container['config'], state: { status } } as Container,
  });
  const targets = [mk('a'.repeat(64), 'running'), mk('b'.repeat(64), 'exited')];
  const g = (cpuNs: number, memLimit: number) => ({ cpuNs, memUsage: 2000, memLimit, memStat: { total_inactive_file: 1000 }, blkRead: 1, blkWrite: 2, pids: 4 });
  const prev = new Map<string, RawSample>([[targets[0]!.container.config.id, { cgroup: g(1e9, Infinity), netRx: 0, netTx: 0, systemNs: 10e9 }]]);
  const cur = new Map<string, RawSample>([
    [targets[0]!.container.config.id, { cgroup: g(1.5e9, Infinity), netRx: 5, netTx: 6, systemNs: 12e9 }],
    [targets[1]!.container.config.id, { netRx: 0, netTx: 0, systemNs: 12e9 }],
  ]);
  const [a, b] = computeEntries(targets, prev, cur, 2, 4000);
  assert.equal(a!.cpuPercent, 50);
  assert.equal(a!.memUsage, 1000);
  assert.equal(a!.memLimit, 4000, 'no limit: the machine memory');
  assert.equal(a!.memPercent, 25);
  assert.deepEqual([a!.netRx, a!.netTx, a!.blkRead, a!.blkWrite, a!.pids], [5, 6, 1, 2, 4]);
  assert.deepEqual([b!.cpuPercent, b!.memUsage, b!.memLimit, b!.pids, b!.running], [0, 0, 0, 0, false]);
  const [c] = computeEntries(targets.slice(0, 1), new Map(), cur, 2, 4000);
  assert.equal(c!.cpuPercent, 0, 'no previous reading: 0');
});

test('prune filters: until (Go durations, Unix times, RFC 3339), label=, label!=; bad ones refused', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  assert.equal(parseGoDuration('1h30m'), 5_400_000);
  assert.equal(parseGoDuration('1.5h'), 5_400_000);
  assert.equal(parseGoDuration('10s'), 10_000);
  assert.equal(parseGoDuration('10'), undefined);
  assert.equal(parseUntil('1h', now), now - 3_600_000);
  assert.equal(parseUntil('1700000000', now), 1_700_000_000_000);
  assert.equal(parseUntil('2024-04-30T00:00:00Z', now), Date.parse('2024-04-30T00:00:00Z'));
  assert.throws(() => parseUntil('yesterday', now), /failed to parse value as time or duration: "yesterday"/);
  const f = parsePruneFilters(['until=1h', 'label=tier=web', 'label!=keep'], now);
  assert.ok(pruneMatches(f, '2024-05-01T10:00:00Z', { tier: 'web' }));
  assert.ok(!pruneMatches(f, '2024-05-01T11:30:00Z', { tier: 'web' }), 'too young');
  assert.ok(!pruneMatches(f, '2024-05-01T10:00:00Z', { tier: 'db' }), 'other label value');
  assert.ok(!pruneMatches(f, '2024-05-01T10:00:00Z', { tier: 'web', keep: '' }), 'label!= present');
  assert.ok(pruneMatches(parsePruneFilters(['label=tier']), undefined, { tier: 'x' }));
  assert.throws(() => parsePruneFilters(['foo=bar']), /invalid filter 'foo'/);
  assert.throws(() => parsePruneFilters(['until']), /bad format of filter/);
  assert.throws(() => parsePruneFilters(['until=1h', 'until=2h']), /more than one until/);
});
