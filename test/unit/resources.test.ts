/**
 * Resource limits: docker's flags → HostConfig → OCI linux.resources (pure,
 * resources.ts), and linux.resources → cgroup files by the C mapping
 * (native/cgroup/, through the addon) written into fake v1 and v2 trees: every
 * file each backend writes, with runc's documented conversions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { native } from '../../src/native.js';
import { parseCpus, parseResources, ramInBytes, toLinuxResources, parseOomScoreAdj, type HostFacts, type LinuxResources } from '../../src/runtime/resources.js';

const HOST: HostFacts = { cpus: '0-1', mems: '0', swapAccounting: true };
const host = () => HOST;
const dev = () => ({ major: 8, minor: 0 });

function refused(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: Error) => (typeof message === 'string' ? err.message === message : message.test(err.message)));
}

test('units as docker reads them', () => {
  assert.equal(ramInBytes('256m'), 256 * 2 ** 20);
  assert.equal(ramInBytes('1g'), 2 ** 30);
  assert.equal(ramInBytes('1.5GB'), 1.5 * 2 ** 30);
  assert.equal(ramInBytes('4096'), 4096);
  assert.equal(ramInBytes('10k'), 10240);
  refused(() => ramInBytes('1x'), "invalid size: '1x'");
  assert.equal(parseCpus('0.5'), 5e8);
  assert.equal(parseCpus('1.5'), 1.5e9);
  assert.equal(parseCpus('2'), 2e9);
  refused(() => parseCpus('abc'), /failed to parse abc as a rational number/);
});

test('docker checks, docker messages', () => {
  refused(() => parseResources({ memory: '1k' }, host), 'Minimum memory limit allowed is 6MB');
  refused(() => parseResources({ cpus: '0' }, host), 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available');
  refused(() => parseResources({ cpus: '99' }, host), 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available');
  refused(() => parseResources({ cpusetCpus: '7' }, host), 'Requested CPUs are not available - requested 7, available: 0-1');
  refused(() => parseResources({ cpusetCpus: '0-' }, host), 'Invalid value 0- for cpuset cpus');
  refused(() => parseResources({ cpusetMems: '3' }, host), 'Requested memory nodes are not available - requested 3, available: 0');
  refused(() => parseResources({ pidsLimit: 'abc' }, host), 'invalid argument "abc" for "--pids-limit" flag: strconv.ParseInt: parsing "abc": invalid syntax');
  refused(() => parseResources({ memory: '64m', memorySwap: '32m' }, host), 'Minimum memoryswap limit should be larger than memory limit, see usage');
  refused(() => parseResources({ memorySwap: '64m' }, host), 'You should always set the Memory limit when using Memoryswap limit, see usage');
  refused(() => parseResources({ memory: '64m', memoryReservation: '128m' }, host), 'Minimum memory limit can not be less than memory reservation limit, see usage');
  refused(() => parseResources({ cpus: '1', cpuQuota: '50000' }, host), 'Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  refused(() => parseResources({ cpuPeriod: '100' }, host), 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  refused(() => parseResources({ cpuQuota: '10' }, host), 'CPU cfs quota can not be less than 1ms (i.e. 1000)');
  refused(() => parseResources({ blkioWeight: '5' }, host), 'Range of blkio weight is from 10 to 1000');
  refused(() => parseResources({ kernelMemory: '10m' }, host), /^Specifying a kernel memory limit is deprecated/);
  refused(() => parseResources({ deviceReadBps: ['/dev/sda'] }, host), 'bad format: /dev/sda');
  refused(() => parseResources({ deviceReadIops: ['/dev/sda:1k'] }, host), /^invalid rate for device: \/dev\/sda:1k/);
  refused(() => parseOomScoreAdj('1001'), 'Invalid value 1001, range for oom score adj is [-1000, 1000]');
  // update: the relation with the recorded swap
  refused(() => parseResources({ memory: '512m' }, host, { update: true, current: { Memory: 64 << 20, MemorySwap: 128 << 20 } }), /update the memoryswap at the same time/);
});

test('HostConfig as docker records it: MemorySwap defaults to twice Memory where swap is accounted; pids 0/-1 unlimited', () => {
  assert.deepEqual(parseResources({ memory: '256m' }, host), { Memory: 256 << 20, MemorySwap: 512 << 20 });
  assert.deepEqual(parseResources({ memory: '256m' }, () => ({ ...HOST, swapAccounting: false })), { Memory: 256 << 20 });
  assert.deepEqual(parseResources({ memory: '256m', memorySwap: '-1' }, host), { Memory: 256 << 20, MemorySwap: -1 });
  assert.deepEqual(parseResources({ pidsLimit: '0' }, host), {});
  assert.deepEqual(parseResources({ pidsLimit: '-1' }, host, { update: true }), { PidsLimit: -1 });
  assert.deepEqual(parseResources({ cpus: '0.5' }, host), { NanoCpus: 5e8 });
});

test('HostConfig → linux.resources as dockerd builds the spec', () => {
  assert.deepEqual(toLinuxResources({ Memory: 256 << 20, MemorySwap: 512 << 20, NanoCpus: 1e9, PidsLimit: 100 }, dev), {
    memory: { limit: 256 << 20, swap: 512 << 20 },
    cpu: { period: 100000, quota: 100000 },
    pids: { limit: 100 },
  });
  assert.deepEqual(toLinuxResources({ NanoCpus: 5e8, CpuShares: 512, CpusetCpus: '0', CpusetMems: '0' }, dev).cpu, { shares: 512, period: 100000, quota: 50000, cpus: '0', mems: '0' });
  assert.deepEqual(toLinuxResources({ BlkioWeight: 300, BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1048576 }] }, dev).blockIO, {
    weight: 300,
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
  });
  assert.deepEqual(toLinuxResources({}, dev), {});
});

/** A fake cgroup dir: the files a kernel would show, empty. */
function fakeDir(files: string[], controllers = ''): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-fakecg-'));
  for (const f of files) fs.writeFileSync(path.join(d, f), '');
  if (controllers) fs.writeFileSync(path.join(d, 'cgroup.controllers'), `${controllers}\n`);
  return d;
}
const read = (d: string, f: string) => fs.readFileSync(path.join(d, f), 'utf8');
const apply = (version: number, dirs: string[], r: LinuxResources) => native().cgroupApply(version, dirs, JSON.stringify(r));

const V2_FILES = ['memory.max', 'memory.low', 'memory.swap.max', 'cpu.weight', 'cpu.max', 'cpuset.cpus', 'cpuset.mems', 'pids.max', 'io.weight', 'io.max'];

test('v2 backend: runc fs2 conversions (cpu.weight, cpu.max, memory.swap.max, io.weight, pids.max, cpuset)', () => {
  const d = fakeDir(V2_FILES, 'cpuset cpu io memory pids');
  try {
    apply(2, [d], {
      memory: { limit: 256 << 20, reservation: 128 << 20, swap: 512 << 20 },
      cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0', mems: '0' },
      pids: { limit: 100 },
      blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }] },
    });
    assert.equal(read(d, 'memory.max'), String(256 << 20));
    assert.equal(read(d, 'memory.low'), String(128 << 20));
    assert.equal(read(d, 'memory.swap.max'), String(256 << 20), 'swap minus memory');
    assert.equal(read(d, 'cpu.weight'), '39', 'runc: 1 + (1024-2)*9999/262142');
    assert.equal(read(d, 'cpu.max'), '50000 100000');
    assert.equal(read(d, 'cpuset.cpus'), '0');
    assert.equal(read(d, 'cpuset.mems'), '0');
    assert.equal(read(d, 'pids.max'), '100');
    assert.equal(read(d, 'io.weight'), '4950', 'runc: 1 + (500-10)*9999/990');
    assert.equal(read(d, 'io.max'), '8:0 rbps=1048576');
    // runc's end points: shares 2 → 1, 262144 → 10000; blkio 10 → 1, 1000 → 10000; -1 → max
    apply(2, [d], { cpu: { shares: 2 }, blockIO: { weight: 10 }, pids: { limit: -1 }, memory: { limit: -1 } });
    assert.equal(read(d, 'cpu.weight'), '1');
    assert.equal(read(d, 'io.weight'), '1');
    assert.equal(read(d, 'pids.max'), 'max');
    assert.equal(read(d, 'memory.max'), 'max');
    assert.equal(read(d, 'memory.swap.max'), 'max', 'unlimited memory, swap not given: unlimited swap (runc)');
    apply(2, [d], { cpu: { shares: 262144, quota: -1 }, blockIO: { weight: 1000 }, memory: { limit: 64 << 20, swap: 64 << 20 } });
    assert.equal(read(d, 'cpu.weight'), '10000');
    assert.equal(read(d, 'cpu.max'), 'max', 'no quota: max, period left to the kernel');
    assert.equal(read(d, 'io.weight'), '10000');
    assert.equal(read(d, 'memory.swap.max'), '0', 'swap == memory: no swap');
  } finally {
    fs.rmSync(d, { recursive: true });
  }
});

test('v2 backend: a controller not handed down is named, not skipped; swap below memory refused', () => {
  const d = fakeDir(V2_FILES, 'cpu pids');
  try {
    assert.throws(() => apply(2, [d], { memory: { limit: 64 << 20 } }), /the memory controller is not available in .*cgroup.subtree_control/);
    assert.throws(() => apply(2, [d], { cpu: { cpus: '0' } }), /the cpuset controller is not available/);
    assert.equal(read(d, 'memory.max'), '', 'nothing written');
    const e = fakeDir(V2_FILES, 'memory');
    try {
      assert.throws(() => apply(2, [e], { memory: { limit: 64 << 20, swap: 32 << 20 } }), /memory\+swap limit .* should be >= memory limit/);
    } finally {
      fs.rmSync(e, { recursive: true });
    }
  } finally {
    fs.rmSync(d, { recursive: true });
  }
});

test('v1 backend: each value in its hierarchy; memsw before memory when raising; a missing file named', () => {
  const mem = fakeDir(['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'memory.soft_limit_in_bytes', 'memory.oom_control', 'memory.swappiness']);
  const cpu = fakeDir(['cpu.shares', 'cpu.cfs_quota_us', 'cpu.cfs_period_us']);
  const cpuset = fakeDir(['cpuset.cpus', 'cpuset.mems']);
  const pids = fakeDir(['pids.max']);
  const blkio = fakeDir(['blkio.throttle.read_bps_device', 'blkio.throttle.write_iops_device']);
  const dirs = [mem, cpu, cpuset, pids, blkio];
  try {
    fs.writeFileSync(path.join(mem, 'memory.limit_in_bytes'), '9223372036854771712\n');
    fs.writeFileSync(path.join(cpu, 'cpu.shares'), '512\n'); // the kernel's read-back (a file here keeps what is written)
    apply(1, dirs, {
      memory: { limit: 256 << 20, reservation: 128 << 20, swap: 512 << 20, disableOOMKiller: true },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0-1', mems: '0' },
      pids: { limit: 20 },
      blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }], throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 100 }] },
    });
    assert.equal(read(mem, 'memory.limit_in_bytes'), String(256 << 20));
    assert.equal(read(mem, 'memory.memsw.limit_in_bytes'), String(512 << 20), 'v1 takes memory+swap as is');
    assert.equal(read(mem, 'memory.soft_limit_in_bytes'), String(128 << 20));
    assert.equal(read(mem, 'memory.oom_control'), '1');
    assert.equal(read(cpu, 'cpu.shares'), '512');
    assert.equal(read(cpu, 'cpu.cfs_quota_us'), '50000');
    assert.equal(read(cpu, 'cpu.cfs_period_us'), '100000');
    assert.equal(read(cpuset, 'cpuset.cpus'), '0-1');
    assert.equal(read(pids, 'pids.max'), '20');
    assert.equal(read(blkio, 'blkio.throttle.read_bps_device'), '8:0 1048576');
    assert.equal(read(blkio, 'blkio.throttle.write_iops_device'), '8:16 100');
    apply(1, dirs, { pids: { limit: -1 } });
    assert.equal(read(pids, 'pids.max'), 'max');
    assert.throws(() => apply(1, dirs, { blockIO: { weight: 500 } }), /no blkio.weight or blkio.bfq.weight/);
    assert.throws(() => apply(1, [mem], { pids: { limit: 5 } }), /no pids.max: the pids controller is not mounted/);
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true });
  }
});
