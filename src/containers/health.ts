/**
 * Healthchecks, docker's: the configuration (the image's HEALTHCHECK merged
 * with --health-* flags, as docker's daemon merges them), the record of the
 * results (ROOT/containers/ID/health.json), and how ps and inspect show them.
 *
 * health.json: { startedAt, Status, FailingStreak, Log } where startedAt is
 * the container's start the record belongs to. A record of an earlier run
 * reads as a fresh one ("starting", streak 0, the old log kept, as docker's
 * initHealthMonitor does at each start), so `start` writes nothing here.
 * Writers (healthcheck runs) take health.lock around their read-modify-write.
 *
 * Status rules (moby daemon/health.go handleProbeResult): a pass makes it
 * healthy and zeroes the streak; a failure counts towards the streak unless
 * the container is still "starting" within its start period; `retries`
 * failures in a row make it unhealthy. A stopped container's health reads
 * unhealthy (docker sets it so when the monitor stops). Log keeps the last 5.
 */
import path from 'node:path';
import type { HealthConfig } from '../oci/types.js';
import { readJsonIfExists, writeJsonReplace } from '../util/atomic.js';
import { withLockSync } from '../util/lock.js';
import { usageError } from '../util/errors.js';
import type { Container } from './record.js';

/** docker's defaults, in nanoseconds as its config keeps them. */
export const HEALTH_DEFAULTS = { interval: 30e9, timeout: 30e9, startPeriod: 0, startInterval: 5e9, retries: 3 };
const MIN_DURATION_NS = 1e6; // docker's container.MinimumDuration (1 ms)
export const MAX_LOG_ENTRIES = 5;
export const MAX_OUTPUT_BYTES = 4096;

/** The --health-* flags as parsed (durations in ns); undefined: not given. */
export interface HealthFlags {
  cmd?: string;
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
  none?: boolean;
}

/**
 * docker's CLI checks of the flags, then the daemon's merge with the image's
 * HEALTHCHECK and its validation. undefined: no healthcheck anywhere.
 */
export function mergeHealthcheck(f: HealthFlags, image: HealthConfig | undefined): HealthConfig | undefined {
  const given = !!f.cmd || !!f.interval || !!f.timeout || !!f.startPeriod || !!f.retries || !!f.startInterval;
  let user: HealthConfig | undefined;
  if (f.none) {
    if (given) throw usageError('--no-healthcheck conflicts with --health-* options');
    user = { Test: ['NONE'] };
  } else if (given) {
    for (const [flag, v] of [['interval', f.interval], ['timeout', f.timeout], ['retries', f.retries], ['start-period', f.startPeriod], ['start-interval', f.startInterval]] as const) {
      if (v !== undefined && v < 0) throw usageError(`--health-${flag} cannot be negative`);
    }
    user = {
      ...(f.cmd !== undefined && f.cmd !== '' ? { Test: ['CMD-SHELL', f.cmd] } : {}),
      Interval: f.interval ?? 0,
      Timeout: f.timeout ?? 0,
      StartPeriod: f.startPeriod ?? 0,
      StartInterval: f.startInterval ?? 0,
      Retries: f.retries ?? 0,
    };
  }
  let hc = user;
  if (!hc) hc = image ? { ...image } : undefined;
  else if (image && hc.Test?.[0] !== 'NONE') {
    hc = {
      ...hc,
      Test: hc.Test?.length ? hc.Test : image.Test,
      Interval: hc.Interval || image.Interval || 0,
      Timeout: hc.Timeout || image.Timeout || 0,
      StartPeriod: hc.StartPeriod || image.StartPeriod || 0,
      StartInterval: hc.StartInterval || image.StartInterval || 0,
      Retries: hc.Retries || image.Retries || 0,
    };
  }
  if (hc) {
    const min = (v: number | undefined, what: string) => {
      if (v && v < MIN_DURATION_NS) throw usageError(`${what} in Healthcheck cannot be less than 1ms`);
    };
    min(hc.Interval, 'Interval');
    min(hc.Timeout, 'Timeout');
    min(hc.StartPeriod, 'StartPeriod');
    min(hc.StartInterval, 'StartInterval');
    if ((hc.Retries ?? 0) < 0) throw usageError('Retries in Healthcheck cannot be negative');
  }
  return hc;
}

/**
 * The probe to run: argv (CMD) or a shell command (CMD-SHELL) through the
 * container's SHELL, else /bin/sh -c (moby's daemon/health.go getShell);
 * undefined when there is none (NONE, empty, unknown type).
 */
export function probeOf(c: Container): { argv: string[]; shell: boolean } | undefined {
  const t = c.config.healthcheck?.Test;
  if (!t?.length) return undefined;
  if (t[0] === 'CMD' && t.length > 1) return { argv: t.slice(1), shell: false };
  if (t[0] === 'CMD-SHELL' && t.length > 1) return { argv: [...(c.config.shell?.length ? c.config.shell : ['/bin/sh', '-c']), t[1]!], shell: true };
  return undefined;
}

/** Effective timings in milliseconds (docker's defaults for the zero values). */
export function healthTimings(c: Container): { intervalMs: number; timeoutMs: number; startPeriodMs: number; startIntervalMs: number; retries: number } {
  const h = c.config.healthcheck ?? {};
  const ms = (v: number | undefined, d: number) => Math.max(1, Math.round((v || d) / 1e6));
  return {
    intervalMs: ms(h.Interval, HEALTH_DEFAULTS.interval),
    timeoutMs: ms(h.Timeout, HEALTH_DEFAULTS.timeout),
    startPeriodMs: Math.round((h.StartPeriod || HEALTH_DEFAULTS.startPeriod) / 1e6),
    startIntervalMs: ms(h.StartInterval, HEALTH_DEFAULTS.startInterval),
    retries: h.Retries || HEALTH_DEFAULTS.retries,
  };
}

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthRecord {
  startedAt?: string;
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthLogEntry[];
}

const recordFile = (c: Container) => path.join(c.dir, 'health.json');

/** The record as it stands for the container's current run (a fresh one when it belongs to an earlier run). */
export function readHealth(c: Container): HealthRecord {
  const r = readJsonIfExists<HealthRecord>(recordFile(c));
  const fresh: HealthRecord = { startedAt: c.state.startedAt, Status: 'starting', FailingStreak: 0, Log: r?.Log ?? [] };
  if (!r || r.startedAt !== c.state.startedAt) return fresh;
  return r;
}

/** docker's handleProbeResult on the container's record, under health.lock. Returns the new record. */
export function recordProbe(c: Container, entry: HealthLogEntry): HealthRecord {
  return withLockSync(path.join(c.dir, 'health.lock'), () => {
    const h = readHealth(c);
    const { retries, startPeriodMs } = healthTimings(c);
    const log = [...h.Log, entry].slice(-MAX_LOG_ENTRIES);
    let { Status, FailingStreak } = h;
    if (entry.ExitCode === 0) {
      FailingStreak = 0;
      Status = 'healthy';
    } else {
      const sinceStart = Date.parse(entry.Start) - Date.parse(c.state.startedAt ?? entry.Start);
      const inStartPeriod = Status === 'starting' && sinceStart < startPeriodMs;
      if (!inStartPeriod) {
        FailingStreak++;
        if (FailingStreak >= retries) Status = 'unhealthy';
      }
    }
    const next: HealthRecord = { startedAt: h.startedAt, Status, FailingStreak, Log: log };
    writeJsonReplace(recordFile(c), next);
    return next;
  });
}

/**
 * inspect's State.Health: absent without a healthcheck or before the first start;
 * a stopped container's reads unhealthy, as docker's.
 */
export function healthJson(c: Container, running: boolean): Record<string, unknown> | undefined {
  if (!probeOf(c) || !c.state.startedAt) return undefined;
  const h = readHealth(c);
  return { Status: running ? h.Status : 'unhealthy', FailingStreak: h.FailingStreak, Log: h.Log };
}

/** The part of ps's STATUS after "Up …": " (healthy)", " (unhealthy)", " (health: starting)", or "". */
export function healthSuffix(c: Container): string {
  if (!probeOf(c) || c.state.status !== 'running') return '';
  const s = readHealth(c).Status;
  return s === 'starting' ? ' (health: starting)' : ` (${s})`;
}
