/**
 * Helpers shared by the command files: the stores for the global --root, and
 * small output helpers. Only src/cli/ prints; ops return data.
 */
import type { Command } from 'commander';
import { openCtx, DEFAULT_ROOT, type Ctx } from '../context.js';
import { findContainer, type Container } from '../containers/record.js';
import { TsrunError, isTsrunError } from '../util/errors.js';

export interface GlobalOpts {
  root: string;
  debug: boolean;
}

export function globalOpts(cmd: Command): GlobalOpts {
  let top: Command = cmd;
  while (top.parent) top = top.parent;
  const o = top.opts<{ root?: string; debug?: boolean }>();
  return { root: o.root ?? process.env.TSRUN_ROOT ?? DEFAULT_ROOT, debug: !!o.debug };
}

/**
 * The stores of --root, for a command that works on what is there: nothing is
 * created, a missing store reads as empty (see context.ts).
 */
export function ctxOf(cmd: Command): Ctx {
  const g = globalOpts(cmd);
  return openCtx(g.root, g.debug, false);
}

/** The stores of --root, made where missing: for the commands that add to a store that may not exist yet (run, pull …). */
export function ctxCreating(cmd: Command): Ctx {
  const g = globalOpts(cmd);
  return openCtx(g.root, g.debug, true);
}

/** Collect a repeatable option into an array (commander's reducer). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseIntOption(name: string) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new TsrunError('USAGE', `invalid value ${JSON.stringify(value)} for ${name}: not an integer`);
    return Number(value);
  };
}

/** Print rows as docker does: columns padded to the widest cell, three spaces apart. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  process.stdout.write([line(headers), ...rows.map(line)].join('\n') + '\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 4) + '\n');
}

/** "2024-05-01 10:00:00 +0000 UTC": Go's time.Time.String() in UTC, docker's CreatedAt. */
export function goTime(iso: string | undefined): string {
  if (!iso || Number.isNaN(Date.parse(iso))) return '';
  return new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC');
}

/** "About a minute ago", "3 hours ago": docker's human durations. */
export function humanAgo(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'N/A';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'N/A';
  return `${humanDuration(Math.max(0, now - t) / 1000)} ago`;
}

export function humanDuration(s: number): string {
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${Math.floor(s)} second${Math.floor(s) === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  const d = Math.round(s / 86400);
  if (d < 14) return `${d} days`;
  if (d < 60) return `${Math.round(d / 7)} weeks`;
  if (d < 730) return `${Math.round(d / 30)} months`;
  return `${Math.round(d / 365)} years`;
}

/** Sizes as docker prints them: 1.23MB, 5.6kB (decimal units). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  const s = v < 10 && i > 0 ? v.toFixed(2) : v < 100 && i > 0 ? v.toFixed(1) : Math.round(v).toString();
  return `${s.replace(/\.?0+$/, (m) => (m.startsWith('.') ? '' : m))}${units[i]}`;
}

/**
 * Wrap a command action: its return value (a number) becomes the exit code.
 * Every command registers its handler through this.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void) {
  return async function (this: Command, ...args: A): Promise<void> {
    const r = await fn(...args);
    const cmd = args[args.length - 1] as Command & { _tsrunResult?: number };
    if (typeof r === 'number') cmd._tsrunResult = r;
  };
}


/**
 * Act on every CONTAINER argument as docker's CLI does (stop, kill, pause, rm …): each is
 * looked up and acted on in turn, its name printed as the user gave it; one that fails
 * (no such container, not running …) has its error printed and the others still go on;
 * exit 1 when any failed. Flag values are checked by the caller before this.
 */
export async function eachContainer(
  cmd: Command,
  refs: string[],
  fn: (ctx: Ctx, c: Container, ref: string) => unknown,
  /** An error that is not a failure (rm -f of a container that does not exist): nothing printed. */
  ignore?: (err: unknown) => boolean,
): Promise<number> {
  const ctx = ctxOf(cmd);
  let failed = false;
  for (const ref of refs) {
    try {
      await fn(ctx, findContainer(ctx, ref), ref);
    } catch (err) {
      if (ignore?.(err)) continue;
      if (!isTsrunError(err)) throw err;
      process.stderr.write(`tsrun: ${err.message}${err.hint ? ` (${err.hint})` : ''}\n`);
      failed = true;
      continue;
    }
    process.stdout.write(`${ref}\n`);
  }
  return failed ? 1 : 0;
}

/**
 * docker's CheckTty: -i and -t together (attached) need a terminal on stdin,
 * else "the input device is not a TTY", exit 1. node:tty loads only then.
 */
export function checkTty(interactive: boolean, tty: boolean, detached: boolean): void {
  if (!interactive || !tty || detached) return;
  if (!process.getBuiltinModule('node:tty').isatty(0)) throw new TsrunError('USAGE', 'the input device is not a TTY', { exitCode: 1 });
}

/** A line writer to stderr, for progress that must not mix with a container's stdout. */
export const toStderr = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
