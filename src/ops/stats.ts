/**
 * `tsrun stats`: what each container uses, computed from two readings of its
 * cgroup files as docker's CLI computes it from two daemon samples:
 *
 *   CPU %  = Δ container CPU time / Δ host CPU time (/proc/stat) × online CPUs × 100
 *            (0 unless both deltas are positive)
 *   MEM    = usage less inactive file cache (memUsageNoCache); limit = the cgroup's,
 *            or the machine's memory when that is lower (no limit set), as dockerd clamps it
 *   MEM %  = MEM / limit × 100
 *   NET    = bytes received / sent on the container's network namespace's interfaces (lo left out)
 *   BLOCK  = bytes read / written (blkio or io.stat)
 *   PIDS   = pids.current
 *
 * A container that is not running reads as zeros (docker's `stats -a` rows).
 * Formatting lives in cli/commands/stats.ts; this returns numbers.
 */
import fs from 'node:fs';
import type { Ctx } from '../context.js';
import { findContainer, listContainers, readContainer, type Container } from '../containers/record.js';
import { isRunning, refresh } from '../containers/status.js';
import { containerCgroup } from '../runtime/cgroups.js';
import { memUsageNoCache, onlineCpus, parseNetDev, sampleCgroup, systemCpuNs, type CgroupSample } from '../runtime/cgroup-stats.js';
import { os } from '../util/builtins.js';

export interface StatsTarget {
  /** What the user named it (docker's .Container), or its full ID when listing. */
  ref: string;
  container: Container;
}

/** One reading of one container. */
export interface RawSample {
  cgroup?: CgroupSample;
  netRx: number;
  netTx: number;
  /** Host CPU time when this reading was taken (ns). */
  systemNs: number;
}

export interface StatsEntry {
  container: string;
  id: string;
  name: string;
  running: boolean;
  cpuPercent: number;
  memUsage: number;
  memLimit: number;
  memPercent: number;
  netRx: number;
  netTx: number;
  blkRead: number;
  blkWrite: number;
  pids: number;
}

/**
 * The containers to show: those named (all looked up first, so a typo fails
 * before anything prints), else the running ones (every one with `all`),
 * newest first as docker lists them.
 */
export function statsTargets(ctx: Ctx, refs: string[], all: boolean): StatsTarget[] {
  if (refs.length) {
    return refs.map((r) => {
      const c = findContainer(ctx, r);
      return { ref: r, container: refresh(ctx, c) };
    });
  }
  return listContainers(ctx)
    .map((c) => refresh(ctx, c))
    .filter((c) => all || isRunning(c))
    .map((c) => ({ ref: c.config.id, container: c }));
}

/** The same targets re-read (their status may have changed); those removed meanwhile are dropped. */
export function refreshTargets(ctx: Ctx, targets: StatsTarget[]): StatsTarget[] {
  const out: StatsTarget[] = [];
  for (const t of targets) {
    const c = readContainer(ctx, t.container.config.id);
    if (c) out.push({ ref: t.ref, container: refresh(ctx, c) });
  }
  return out;
}

function netOf(c: Container): { rx: number; tx: number } {
  // the host's interfaces are not the container's: docker reports nothing for --network host
  if (!c.state.pid || c.config.host.network === 'host') return { rx: 0, tx: 0 };
  try {
    return parseNetDev(fs.readFileSync(`/proc/${c.state.pid}/net/dev`, 'utf8'));
  } catch {
    return { rx: 0, tx: 0 }; // exited between the listing and this read
  }
}

/** Read every running target's cgroup and network counters once. */
export function sampleTargets(ctx: Ctx, targets: StatsTarget[]): Map<string, RawSample> {
  const systemNs = systemCpuNs();
  const out = new Map<string, RawSample>();
  for (const { container: c } of targets) {
    if (!isRunning(c)) {
      out.set(c.config.id, { netRx: 0, netTx: 0, systemNs });
      continue;
    }
    const net = netOf(c);
    const layout = containerCgroup(ctx, c.config.id);
    out.set(c.config.id, { cgroup: layout && sampleCgroup(layout), netRx: net.rx, netTx: net.tx, systemNs });
  }
  return out;
}

/** dockerd's machineMemory: a limit above the machine's memory (none set) reads as the machine's. */
function clampLimit(limit: number, machine: number): number {
  return limit > machine && machine > 0 ? machine : limit;
}

/** docker's calculateCPUPercentUnix. */
export function cpuPercent(prevCpu: number, prevSystem: number, cpu: number, system: number, cpus: number): number {
  const cpuDelta = cpu - prevCpu;
  const systemDelta = system - prevSystem;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0;
}

/** Entries from a reading and the one before it (CPU % needs two; without a previous one it is 0). */
export function computeEntries(targets: StatsTarget[], prev: Map<string, RawSample>, cur: Map<string, RawSample>, cpus = onlineCpus(), machineMemory = os().totalmem()): StatsEntry[] {
  return targets.map(({ ref, container: c }) => {
    const id = c.config.id;
    const s = cur.get(id);
    const p = prev.get(id);
    const base = { container: ref, id, name: c.config.name, running: isRunning(c) };
    const g = s?.cgroup;
    if (!s || !g) return { ...base, cpuPercent: 0, memUsage: 0, memLimit: 0, memPercent: 0, netRx: 0, netTx: 0, blkRead: 0, blkWrite: 0, pids: 0 };
    const mem = memUsageNoCache(g);
    const limit = clampLimit(g.memLimit, machineMemory);
    return {
      ...base,
      cpuPercent: p?.cgroup ? cpuPercent(p.cgroup.cpuNs, p.systemNs, g.cpuNs, s.systemNs, cpus) : 0,
      memUsage: mem,
      memLimit: Number.isFinite(limit) ? limit : 0,
      memPercent: Number.isFinite(limit) && limit > 0 ? (mem / limit) * 100 : 0,
      netRx: s.netRx,
      netTx: s.netTx,
      blkRead: g.blkRead,
      blkWrite: g.blkWrite,
      pids: g.pids,
    };
  });
}
