/**
 * `logs`: replay ctr.log (docker json-file lines {log, stream, time}) to the
 * caller's stdout/stderr; with follow, keep reading until the container exits.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { usageError } from '../util/errors.js';
import { readContainer, type Container } from '../containers/record.js';
import { isRunning, refresh } from '../containers/status.js';

export interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

export interface LogsOptions {
  follow?: boolean;
  /** Number of last lines, undefined for all. */
  tail?: number;
  timestamps?: boolean;
  /** Only entries at or after this time (ms since epoch). */
  since?: number;
  /** Only entries before this time (ms since epoch). */
  until?: number;
}

/** docker's --since/--until: RFC 3339 date, Unix seconds, or a duration like 10s, 5m, 2h ago. */
export function parseLogTime(spec: string, now = Date.now()): number {
  const d = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(spec);
  if (d) {
    const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[d[2] as 'ms' | 's' | 'm' | 'h'];
    return now - Number(d[1]) * mult;
  }
  if (/^\d+(\.\d+)?$/.test(spec)) return Number(spec) * 1000;
  const t = Date.parse(spec);
  if (Number.isNaN(t)) throw usageError(`invalid time ${JSON.stringify(spec)}`, 'use an RFC 3339 date, Unix seconds, or a duration like 10m');
  return t;
}

export function parseTail(spec: string | undefined): number | undefined {
  if (spec === undefined || spec === 'all') return undefined;
  if (!/^\d+$/.test(spec)) throw usageError(`invalid --tail value ${JSON.stringify(spec)}`, 'use a number of lines or "all"');
  return Number(spec);
}

function parseLines(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const e = JSON.parse(line) as LogEntry;
      if (typeof e.log === 'string') out.push(e);
    } catch {
      /* a torn last line of a crashed writer */
    }
  }
  return out;
}

function keep(e: LogEntry, o: LogsOptions): boolean {
  if (o.since === undefined && o.until === undefined) return true;
  const t = Date.parse(e.time);
  return (o.since === undefined || t >= o.since) && (o.until === undefined || t < o.until);
}

export type LogSink = (stream: 'stdout' | 'stderr', text: string) => void;

function emit(e: LogEntry, o: LogsOptions, sink: LogSink): void {
  sink(e.stream === 'stderr' ? 'stderr' : 'stdout', o.timestamps ? `${e.time} ${e.log}` : e.log);
}

export async function containerLogs(ctx: Ctx, c0: Container, o: LogsOptions, sink: LogSink): Promise<void> {
  const file = path.join(c0.dir, 'ctr.log');
  let offset = 0;
  let pending = '';
  const readNew = (): LogEntry[] => {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return [];
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < offset) offset = 0; // truncated
      if (size === offset) return [];
      const buf = Buffer.alloc(size - offset);
      fs.readSync(fd, buf, 0, buf.length, offset);
      offset = size;
      const text = pending + buf.toString('utf8');
      const nl = text.lastIndexOf('\n');
      pending = text.slice(nl + 1); // an incomplete last line waits for its end
      return parseLines(text.slice(0, nl + 1)).filter((e) => keep(e, o));
    } finally {
      fs.closeSync(fd);
    }
  };
  let first = readNew();
  if (o.tail !== undefined) first = o.tail === 0 ? [] : first.slice(-o.tail);
  for (const e of first) emit(e, o, sink);
  if (!o.follow) return;
  await new Promise<void>((resolve) => {
    let watcher: fs.FSWatcher | undefined;
    const tick = () => {
      for (const e of readNew()) emit(e, o, sink);
      const now = readContainer(ctx, c0.config.id);
      if (!now || !isRunning(refresh(ctx, now))) {
        for (const e of readNew()) emit(e, o, sink); // what was written just before the exit
        clearInterval(timer);
        watcher?.close();
        resolve();
      }
    };
    const timer = setInterval(tick, 100);
    try {
      watcher = fs.watch(c0.dir, tick);
      watcher.on('error', () => {});
    } catch {
      /* the interval does it */
    }
    tick();
  });
}
