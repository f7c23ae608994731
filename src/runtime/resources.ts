/**
 * docker's resource flags (run, create, update) → docker's HostConfig resource
 * fields (what the container record keeps and inspect shows) → OCI
 * `linux.resources` (what the cgroup manager writes, native/cgroup/).
 *
 * Pure: the host facts it checks against (CPUs, memory nodes, swap accounting,
 * device numbers) are passed in, so every check is unit-tested. Messages are
 * docker's (daemon/daemon_unix.go, opts/), so scripts that grep them work.
 */
import { TsrunError, usageError } from '../util/errors.js';

/** docker's HostConfig resource fields, as `inspect` shows them (unset fields are absent). */
export interface Resources {
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  OomKillDisable?: boolean;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number;
  BlkioWeight?: number;
  BlkioDeviceReadBps?: ThrottleDevice[];
  BlkioDeviceWriteBps?: ThrottleDevice[];
  BlkioDeviceReadIOps?: ThrottleDevice[];
  BlkioDeviceWriteIOps?: ThrottleDevice[];
}

export interface ThrottleDevice {
  Path: string;
  Rate: number;
}

/** The flags as commander hands them over (strings, lists, booleans). */
export interface ResourceFlags {
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  kernelMemory?: string;
  oomKillDisable?: boolean;
  cpus?: string;
  cpuShares?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: string;
  blkioWeight?: string;
  deviceReadBps?: string[];
  deviceWriteBps?: string[];
  deviceReadIops?: string[];
  deviceWriteIops?: string[];
}

/** What the checks need to know about the host. */
export interface HostFacts {
  /** CPUs tsrun may use, as a cpuset list ("0-1"). */
  cpus: string;
  /** memory nodes, as a cpuset list ("0"). */
  mems: string;
  /** the kernel accounts swap (v1 memory.memsw.*, v2 memory.swap.max): docker then defaults MemorySwap to 2 × Memory */
  swapAccounting: boolean;
}

/** docker's linuxMinMemory */
export const MIN_MEMORY = 6 * 1024 * 1024;

/** docker's units.RAMInBytes: a number with an optional b, k, m, g, t, p suffix (optionally followed by b), 1024-based. */
export function ramInBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s.trim());
  if (!m) throw usageError(`invalid size: '${s}'`);
  const mult: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };
  const v = Number(m[1]) * (m[2] ? mult[m[2].toLowerCase()]! : 1);
  if (!Number.isSafeInteger(Math.trunc(v))) throw usageError(`invalid size: '${s}'`);
  return Math.trunc(v);
}

/** Go's strconv.ParseInt as cobra reports it for an int64 flag. */
export function int64Flag(flag: string, v: string): number {
  if (!/^[+-]?\d+$/.test(v)) throw usageError(`invalid argument "${v}" for "${flag}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw usageError(`invalid argument "${v}" for "${flag}" flag: strconv.ParseInt: parsing "${v}": value out of range`);
  return n;
}

/** docker's --cpus: a decimal number of CPUs → NanoCpus (big.Rat in docker; at most 9 decimals). */
export function parseCpus(v: string): number {
  const m = /^(\d*)(?:\.(\d{0,9}))?$/.exec(v.trim());
  if (!m || (m[1] === '' && !m[2])) throw usageError(`invalid argument "${v}" for "--cpus" flag: failed to parse ${v} as a rational number`);
  return Number(m[1] || '0') * 1e9 + Number((m[2] ?? '').padEnd(9, '0'));
}

/** A cpuset list ("0-2,4") → its members; undefined when it does not parse (docker's parsers.ParseUintList). */
export function parseCpuList(s: string): Set<number> | undefined {
  const out = new Set<number>();
  if (s === '') return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a || b - a > 4096) return undefined;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}

function checkCpuset(value: string, available: string, what: 'cpus' | 'mems'): void {
  const want = parseCpuList(value);
  if (!want) throw usageError(`Invalid value ${value} for cpuset ${what}`);
  const have = parseCpuList(available) ?? new Set<number>();
  if ([...want].some((c) => !have.has(c))) {
    throw usageError(
      what === 'cpus' ? `Requested CPUs are not available - requested ${value}, available: ${available}` : `Requested memory nodes are not available - requested ${value}, available: ${available}`,
    );
  }
}

/** --device-read-bps PATH:RATE (bytes with units) / --device-read-iops PATH:N, docker's validators. */
function parseThrottle(spec: string, iops: boolean): ThrottleDevice {
  const i = spec.lastIndexOf(':');
  if (i < 0) throw usageError(`bad format: ${spec}`);
  const p = spec.slice(0, i);
  const r = spec.slice(i + 1);
  if (!p.startsWith('/dev/')) throw usageError(`bad format for device path: ${spec}`);
  const bad = iops
    ? `invalid rate for device: ${spec}. The correct format is <device-path>:<number>. Number must be a positive integer`
    : `invalid rate for device: ${spec}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`;
  let rate: number;
  try {
    rate = iops ? (/^\d+$/.test(r) ? Number(r) : NaN) : ramInBytes(r);
  } catch {
    throw usageError(bad);
  }
  if (!Number.isSafeInteger(rate) || rate < 0) throw usageError(bad);
  return { Path: p, Rate: rate };
}

/**
 * The resource flags given → the HostConfig fields they set, checked as docker's
 * daemon checks them. `current` is the record's resources (update): checks that
 * relate two values (swap ≥ memory, quota with --cpus) see the merged result.
 * `update` leaves out the create-only defaults (MemorySwap = 2 × Memory).
 */
export function parseResources(f: ResourceFlags, host: () => HostFacts, opts: { update?: boolean; current?: Resources } = {}): Resources {
  if (f.kernelMemory !== undefined) {
    throw new TsrunError('USAGE', 'Specifying a kernel memory limit is deprecated and will be removed in a future release: --kernel-memory is not supported', {
      hint: 'drop --kernel-memory (cgroup v2 has no kernel memory limit; -m covers kernel memory there)',
    });
  }
  const r: Resources = {};
  if (f.memory !== undefined) r.Memory = ramInBytes(f.memory);
  if (f.memorySwap !== undefined) r.MemorySwap = f.memorySwap.trim() === '-1' ? -1 : ramInBytes(f.memorySwap);
  if (f.memoryReservation !== undefined) r.MemoryReservation = ramInBytes(f.memoryReservation);
  if (f.oomKillDisable) r.OomKillDisable = true;
  if (f.cpus !== undefined) r.NanoCpus = parseCpus(f.cpus);
  if (f.cpuShares !== undefined) r.CpuShares = int64Flag('--cpu-shares', f.cpuShares);
  if (f.cpuPeriod !== undefined) r.CpuPeriod = int64Flag('--cpu-period', f.cpuPeriod);
  if (f.cpuQuota !== undefined) r.CpuQuota = int64Flag('--cpu-quota', f.cpuQuota);
  if (f.cpusetCpus !== undefined) r.CpusetCpus = f.cpusetCpus;
  if (f.cpusetMems !== undefined) r.CpusetMems = f.cpusetMems;
  if (f.pidsLimit !== undefined) r.PidsLimit = int64Flag('--pids-limit', f.pidsLimit);
  if (f.blkioWeight !== undefined) {
    if (!/^\d+$/.test(f.blkioWeight) || Number(f.blkioWeight) > 65535)
      throw usageError(`invalid argument "${f.blkioWeight}" for "--blkio-weight" flag: strconv.ParseUint: parsing "${f.blkioWeight}": invalid syntax`);
    r.BlkioWeight = Number(f.blkioWeight);
  }
  const thr = (list: string[] | undefined, iops: boolean) => (list?.length ? list.map((s) => parseThrottle(s, iops)) : undefined);
  const rb = thr(f.deviceReadBps, false);
  const wb = thr(f.deviceWriteBps, false);
  const ri = thr(f.deviceReadIops, true);
  const wi = thr(f.deviceWriteIops, true);
  if (rb) r.BlkioDeviceReadBps = rb;
  if (wb) r.BlkioDeviceWriteBps = wb;
  if (ri) r.BlkioDeviceReadIOps = ri;
  if (wi) r.BlkioDeviceWriteIOps = wi;

  const m: Resources = { ...opts.current, ...r };
  // docker's verifyPlatformContainerResources, in its order
  if (r.Memory !== undefined && r.Memory !== 0 && r.Memory < MIN_MEMORY) throw usageError('Minimum memory limit allowed is 6MB');
  if (r.MemorySwap !== undefined && r.MemorySwap > 0 && !m.Memory) throw usageError('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (m.Memory && m.MemorySwap !== undefined && m.MemorySwap > 0 && m.MemorySwap < m.Memory) {
    throw usageError(
      opts.update && r.MemorySwap === undefined
        ? 'Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time'
        : 'Minimum memoryswap limit should be larger than memory limit, see usage',
    );
  }
  if (r.MemoryReservation !== undefined && r.MemoryReservation !== 0 && r.MemoryReservation < MIN_MEMORY) throw usageError('Minimum memory reservation allowed is 6MB');
  if (m.Memory && m.MemoryReservation && m.Memory < m.MemoryReservation) throw usageError('Minimum memory limit can not be less than memory reservation limit, see usage');
  if (r.NanoCpus !== undefined) {
    if ((r.CpuPeriod ?? 0) > 0) throw usageError('Conflicting options: Nano CPUs and CPU Period cannot both be set');
    if ((r.CpuQuota ?? 0) > 0) throw usageError('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
    const n = parseCpuList(host().cpus)?.size ?? 1;
    // docker takes 0 as "unset"; tsrun refuses it (and anything below the kernel's 1 ms quota) as the range it is
    if (r.NanoCpus < 1e7 || r.NanoCpus > n * 1e9) throw usageError(`Range of CPUs is from 0.01 to ${n}.00, as there are only ${n} CPUs available`);
  }
  if (!opts.update && (r.CpuPeriod ?? 0) > 0 && m.NanoCpus) throw usageError('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (r.CpuShares !== undefined && r.CpuShares < 0) throw usageError('shares: invalid argument: cpu shares cannot be negative');
  if (r.CpuPeriod !== undefined && r.CpuPeriod !== 0 && (r.CpuPeriod < 1000 || r.CpuPeriod > 1000000))
    throw usageError('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (r.CpuQuota !== undefined && r.CpuQuota > 0 && r.CpuQuota < 1000) throw usageError('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (r.CpusetCpus !== undefined && r.CpusetCpus !== '') checkCpuset(r.CpusetCpus, host().cpus, 'cpus');
  if (r.CpusetMems !== undefined && r.CpusetMems !== '') checkCpuset(r.CpusetMems, host().mems, 'mems');
  if (r.BlkioWeight !== undefined && r.BlkioWeight !== 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000)) throw usageError('Range of blkio weight is from 10 to 1000');

  if (!opts.update && r.Memory && r.MemorySwap === undefined && host().swapAccounting) r.MemorySwap = 2 * r.Memory; // docker's default: as much swap as memory
  if (r.PidsLimit !== undefined && r.PidsLimit <= 0) {
    if (opts.update) r.PidsLimit = -1; // lift the old limit
    else delete r.PidsLimit; // 0 and -1: unlimited
  }
  return r;
}

/** --oom-score-adj: docker's range check. */
export function parseOomScoreAdj(v: string): number {
  const n = int64Flag('--oom-score-adj', v);
  if (n < -1000 || n > 1000) throw usageError(`Invalid value ${n}, range for oom score adj is [-1000, 1000]`);
  return n;
}

/** --shm-size: bytes (docker's default 64m when not given). */
export function parseShmSize(v: string): number {
  const n = ramInBytes(v);
  if (n <= 0) throw usageError('SHM size can not be less than 0');
  return n;
}

export interface LinuxThrottle {
  major: number;
  minor: number;
  rate: number;
}

/** OCI runtime-spec linux.resources (the parts tsrun sets). */
export interface LinuxResources {
  memory?: { limit?: number; reservation?: number; swap?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: {
    weight?: number;
    throttleReadBpsDevice?: LinuxThrottle[];
    throttleWriteBpsDevice?: LinuxThrottle[];
    throttleReadIOPSDevice?: LinuxThrottle[];
    throttleWriteIOPSDevice?: LinuxThrottle[];
  };
}

/** docker's default CFS period when --cpus is given (100 ms). */
const CPU_PERIOD = 100000;

/**
 * HostConfig resources → OCI linux.resources, as docker's daemon builds the spec
 * (oci_linux.go): --cpus becomes quota = NanoCpus × 100000 / 1e9 over a 100 ms
 * period; 0 means unset everywhere, as in docker's API. `devNum` turns a
 * throttled device's path into its major:minor (stat's rdev).
 */
export function toLinuxResources(r: Resources, devNum: (path: string) => { major: number; minor: number }): LinuxResources {
  const out: LinuxResources = {};
  const mem: NonNullable<LinuxResources['memory']> = {};
  if (r.Memory) mem.limit = r.Memory;
  if (r.MemoryReservation) mem.reservation = r.MemoryReservation;
  if (r.MemorySwap) mem.swap = r.MemorySwap;
  if (r.OomKillDisable) mem.disableOOMKiller = true;
  if (Object.keys(mem).length) out.memory = mem;
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (r.CpuShares) cpu.shares = r.CpuShares;
  if (r.NanoCpus) {
    cpu.period = CPU_PERIOD;
    cpu.quota = Math.floor((r.NanoCpus * CPU_PERIOD) / 1e9);
  } else {
    if (r.CpuPeriod) cpu.period = r.CpuPeriod;
    if (r.CpuQuota) cpu.quota = r.CpuQuota;
  }
  if (r.CpusetCpus) cpu.cpus = r.CpusetCpus;
  if (r.CpusetMems) cpu.mems = r.CpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (r.PidsLimit !== undefined && r.PidsLimit !== 0) out.pids = { limit: r.PidsLimit < 0 ? -1 : r.PidsLimit };
  const io: NonNullable<LinuxResources['blockIO']> = {};
  if (r.BlkioWeight) io.weight = r.BlkioWeight;
  const thr = (l: ThrottleDevice[] | undefined) => l?.map((t) => ({ ...devNum(t.Path), rate: t.Rate }));
  if (r.BlkioDeviceReadBps?.length) io.throttleReadBpsDevice = thr(r.BlkioDeviceReadBps);
  if (r.BlkioDeviceWriteBps?.length) io.throttleWriteBpsDevice = thr(r.BlkioDeviceWriteBps);
  if (r.BlkioDeviceReadIOps?.length) io.throttleReadIOPSDevice = thr(r.BlkioDeviceReadIOps);
  if (r.BlkioDeviceWriteIOps?.length) io.throttleWriteIOPSDevice = thr(r.BlkioDeviceWriteIOps);
  if (Object.keys(io).length) out.blockIO = io;
  return out;
}

/** True when no resource is set (the common `run` without limits: no cgroup writes at all). */
export function noResources(r: Resources | undefined): boolean {
  return !r || Object.keys(r).length === 0;
}
