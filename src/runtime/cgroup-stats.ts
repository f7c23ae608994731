/**
 * What a container's cgroup has used, read from its files as docker's daemon
 * (runc's libcontainer) reads them, on both layouts:
 *
 *   value      v1 file                                        v2 file
 *   CPU        cpuacct/cpuacct.usage (ns)                     cpu.stat usage_usec (×1000)
 *   memory     memory/memory.usage_in_bytes, .limit_in_bytes   memory.current, memory.max
 *   its stats  memory/memory.stat (total_inactive_file)        memory.stat (inactive_file)
 *   block I/O  blkio/blkio.io_service_bytes_recursive (CFQ/BFQ io.stat rbytes / wbytes
 *              kernels), else blkio.throttle.io_service_bytes_recursive
 *   PIDs       pids/pids.current                              pids.current
 *
 * The layout (which dirs) comes from cgroups.ts's containerCgroup (the record ROOT/containers/ID/cgroup.json);
 * this module only reads. A file that is missing (a controller not mounted, or
 * not enabled for the cgroup on v2) reads as 0, as runc leaves such a stat empty.
 * The arithmetic docker's CLI does on these numbers lives in ops/stats.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { controllerDir, type CgroupLayout } from './cgroups.js';

export interface CgroupSample {
  /** Total CPU time of the cgroup's tasks, in nanoseconds. */
  cpuNs: number;
  /** Memory charged to the cgroup (page cache included), bytes. */
  memUsage: number;
  /** Its limit in bytes; Infinity when unlimited (v2 "max", v1's PAGE_COUNTER_MAX). */
  memLimit: number;
  /** memory.stat as numbers. */
  memStat: Record<string, number>;
  blkRead: number;
  blkWrite: number;
  pids: number;
}

/** v1's "no limit": PAGE_COUNTER_MAX pages, 9223372036854771712 on 4 KiB pages; anything ≥ 2^62 is unlimited. */
const V1_UNLIMITED = 2 ** 62;

/** "key value" lines (memory.stat, cpu.stat) → numbers. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/**
 * v1 blkio.*io_service_bytes_recursive: "MAJ:MIN Read N" … "Total N" lines.
 * docker's CLI sums every device's entries whose op starts with r/R (read) and w/W (write).
 */
export function parseBlkioV1(text: string): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3 || !/^\d+:\d+$/.test(f[0]!)) continue;
    const n = Number(f[2]);
    if (!Number.isFinite(n)) continue;
    const op = f[1]![0];
    if (op === 'r' || op === 'R') read += n;
    else if (op === 'w' || op === 'W') write += n;
  }
  return { read, write };
}

/** v2 io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N …" per device; docker's daemon maps rbytes/wbytes to read/write. */
export function parseIoStatV2(text: string): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!f[0] || !/^\d+:\d+$/.test(f[0])) continue;
    for (const kv of f.slice(1)) {
      const [k, v] = kv.split('=');
      const n = Number(v);
      if (!Number.isFinite(n)) continue;
      if (k === 'rbytes') read += n;
      else if (k === 'wbytes') write += n;
    }
  }
  return { read, write };
}

/** v2 memory.max / v1 memory.limit_in_bytes → bytes, Infinity when unlimited. */
export function parseMemLimit(text: string): number {
  const t = text.trim();
  if (t === 'max' || t === '') return Infinity;
  const n = Number(t);
  return !Number.isFinite(n) || n >= V1_UNLIMITED ? Infinity : n;
}

function read(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function num(text: string | undefined): number {
  const n = Number(text?.trim());
  return text !== undefined && Number.isFinite(n) ? n : 0;
}

function in_(dir: string | undefined, file: string): string | undefined {
  return dir ? path.join(dir, file) : undefined;
}

function sampleV1(layout: CgroupLayout): CgroupSample {
  const by = (c: string) => controllerDir(layout, c);
  const mem = by('memory');
  const blkio = by('blkio');
  // CFQ/BFQ kernels account every request here; others only through the throttle files (runc's order)
  const blk = read(in_(blkio, 'blkio.io_service_bytes_recursive')) || read(in_(blkio, 'blkio.throttle.io_service_bytes_recursive')) || '';
  const { read: blkRead, write: blkWrite } = parseBlkioV1(blk);
  const limitText = read(in_(mem, 'memory.limit_in_bytes'));
  return {
    cpuNs: num(read(in_(by('cpuacct'), 'cpuacct.usage'))),
    memUsage: num(read(in_(mem, 'memory.usage_in_bytes'))),
    memLimit: limitText === undefined ? Infinity : parseMemLimit(limitText),
    memStat: parseFlatKeyed(read(in_(mem, 'memory.stat')) ?? ''),
    blkRead,
    blkWrite,
    pids: num(read(in_(by('pids'), 'pids.current'))),
  };
}

function sampleV2(layout: CgroupLayout): CgroupSample {
  const dir = layout.dirs[0];
  const cpu = parseFlatKeyed(read(in_(dir, 'cpu.stat')) ?? '');
  const { read: blkRead, write: blkWrite } = parseIoStatV2(read(in_(dir, 'io.stat')) ?? '');
  const limitText = read(in_(dir, 'memory.max'));
  return {
    cpuNs: (cpu.usage_usec ?? 0) * 1000,
    memUsage: num(read(in_(dir, 'memory.current'))),
    memLimit: limitText === undefined ? Infinity : parseMemLimit(limitText),
    memStat: parseFlatKeyed(read(in_(dir, 'memory.stat')) ?? ''),
    blkRead,
    blkWrite,
    pids: num(read(in_(dir, 'pids.current'))),
  };
}

/** One reading of the container's cgroup files. */
export function sampleCgroup(layout: CgroupLayout): CgroupSample {
  return layout.version === 2 ? sampleV2(layout) : sampleV1(layout);
}

/**
 * docker's "memory usage less cache" (calculateMemUsageUnixNoCache): v1 takes
 * total_inactive_file off the usage, v2 inactive_file; when that is not below
 * the usage, the usage as it is.
 */
export function memUsageNoCache(s: Pick<CgroupSample, 'memUsage' | 'memStat'>): number {
  const v1 = s.memStat.total_inactive_file;
  if (v1 !== undefined && v1 < s.memUsage) return s.memUsage - v1;
  // as docker's: a v1 total_inactive_file not below the usage falls through to the cgroup's own inactive_file
  const v2 = s.memStat.inactive_file ?? 0;
  if (v2 < s.memUsage) return s.memUsage - v2;
  return s.memUsage;
}

/** Clock ticks per second of /proc/stat (USER_HZ: 100 on every Linux architecture tsrun runs on). */
const USER_HZ = 100;

/**
 * The host's CPU time in nanoseconds as docker's daemon measures it
 * (getSystemCPUUsage): the "cpu" line of /proc/stat, its fields 1 to 7
 * (user, nice, system, idle, iowait, irq, softirq; not steal or guest).
 */
export function parseSystemCpuNs(procStat: string): number {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  const f = line.trim().split(/\s+/).slice(1, 8).map(Number);
  return (f.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) * 1e9) / USER_HZ;
}

export function systemCpuNs(): number {
  return parseSystemCpuNs(fs.readFileSync('/proc/stat', 'utf8'));
}

/** Online CPUs ("0-1,4" in /sys/devices/system/cpu/online): docker's OnlineCPUs. */
export function parseCpuList(text: string): number {
  let n = 0;
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b! - a! + 1;
  }
  return n;
}

export function onlineCpus(): number {
  try {
    return parseCpuList(fs.readFileSync('/sys/devices/system/cpu/online', 'utf8')) || 1;
  } catch {
    return 1;
  }
}

/**
 * Bytes received and sent on a network namespace's interfaces, from
 * /proc/PID/net/dev of a process in it. The loopback is left out: docker
 * counts the container's endpoints (eth0 …), not lo.
 */
export function parseNetDev(text: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (!name || name === 'lo' || name.includes('|')) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16) continue;
    rx += f[0]!;
    tx += f[8]!;
  }
  return { rx, tx };
}
