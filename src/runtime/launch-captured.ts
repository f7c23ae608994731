/**
 * An exec launch whose output is captured rather than passed through: what a
 * healthcheck needs (docker keeps the first 4 KiB of a probe's stdout and
 * stderr together and kills a probe that runs past its timeout).
 *
 * The launcher and its protocol are launch.ts's (fd 3 the spec, fd 4 one
 * status line, then EOF when it exits); the launcher is spawned here with
 * node:child_process, whose pipes on fds 1 and 2 the addon's posix_spawn does
 * not offer. Not on run's start-up path: child_process is loaded only here.
 */
import { spawn } from 'node:child_process';
import { native } from '../native.js';
import { TsrunError } from '../util/errors.js';
import { launchError } from './launch.js';
import fs from 'node:fs';
import net from 'node:net';
import { os } from '../util/builtins.js';

export interface CapturedResult {
  /** The process's status (128+signal when killed), or -1 when it ran past the timeout. */
  exitCode: number;
  /** The first maxOutput bytes of stdout and stderr, interleaved as they came. */
  output: Buffer;
  timedOut: boolean;
}

/** Reads what a non-blocking pipe holds now (up to 1 MiB: a writer still going is not waited for). */
function takeBuffered(fd: number, keep: (b: Buffer) => void): void {
  const buf = Buffer.alloc(65536);
  for (let i = 0; i < 16; i++) {
    let got: number;
    try {
      got = fs.readSync(fd, buf, 0, buf.length, null);
    } catch {
      return; // EAGAIN: nothing more now
    }
    if (got <= 0) return;
    keep(Buffer.from(buf.subarray(0, got)));
  }
}

/**
 * Starts the launcher with an exec's `spec` (JSON text), resolves `started` once the process runs
 * (or rejects with the launcher's error), and `done` when it has exited or
 * was killed at the timeout.
 */
export function launchCaptured(spec: string, opts: { timeoutMs: number; maxOutput: number }): { started: Promise<number>; done: Promise<CapturedResult> } {
  // stdout and stderr share one pipe, so the output keeps the order the probe wrote it in (two
  // pipes read side by side interleave at random: a shell's trace line split by the command's output)
  const [outRead, outWrite] = native().pipe();
  let child;
  try {
    child = spawn(native().initPath(), [], { stdio: ['ignore', outWrite, outWrite, 'pipe', 'pipe'] });
  } catch (err) {
    fs.closeSync(outRead);
    throw err;
  } finally {
    fs.closeSync(outWrite);
  }
  const output = new net.Socket({ fd: outRead, readable: true, writable: false });
  const chunks: Buffer[] = [];
  let kept = 0;
  const keep = (b: Buffer) => {
    // read on to the end (a writer must never block on a full pipe), keep only the start
    if (kept >= opts.maxOutput) return;
    const part = b.subarray(0, opts.maxOutput - kept);
    chunks.push(part);
    kept += part.length;
  };
  output.on('data', keep);
  output.on('error', () => {});
  const drained = new Promise<void>((resolve) => output.once('close', () => resolve()));
  const planPipe = child.stdio[3] as NodeJS.WritableStream;
  const statusPipe = child.stdio[4] as NodeJS.ReadableStream;
  planPipe.on('error', () => {}); // a launcher that died early reports on fd 4
  planPipe.end(Buffer.from(`\0${spec}`)); // an exec: an empty first frame, then its spec

  let pid = 0;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<number>((resolve) => {
    child.on('close', (code, signal) => resolve(signal ? 128 + (os().constants.signals[signal] ?? 0) : (code ?? 125)));
    child.on('error', () => resolve(125));
  });
  const started = new Promise<number>((resolve, reject) => {
    let line = '';
    statusPipe.on('data', (d: Buffer) => {
      if (line.includes('\n')) return;
      line += d.toString('utf8');
      const nl = line.indexOf('\n');
      if (nl < 0) return;
      const f = line.slice(0, nl).split('\t');
      if (f[0] === 'ok') {
        pid = Number(f[1]);
        timer = setTimeout(() => {
          timedOut = true;
          // docker cancels the probe: the process is killed, and the launcher, which waits for it,
          // reaps it and exits. Not the launcher at the same time: killed before its reap, it would
          // orphan the probe to the container's process 1, under which (a sleep, say: it reaps
          // nothing) it stayed a zombie — one more at each probe past its timeout
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
          // a launcher that does not end with its probe (it should) goes after a grace
          setTimeout(() => child.kill('SIGKILL'), 5000).unref();
        }, opts.timeoutMs);
        resolve(pid);
      } else if (f[0] === 'err') reject(launchError(f[1] ?? '?', Number(f[2]), f[3] ?? ''));
    });
    statusPipe.on('end', () => {
      if (!line.includes('\n')) reject(new TsrunError('INTERNAL', 'the launcher tsrun-init exited without reporting', { hint: 'run `npm install` to rebuild native/' }));
    });
    statusPipe.on('error', () => {});
  });
  started.catch(() => {});
  const done = (async () => {
    const code = await exited;
    if (timer) clearTimeout(timer);
    // what the probe wrote is in the pipe already; EOF comes once every process that inherited
    // the pipe is gone — a probe's background child may hold it on, so wait only briefly for that,
    // then take what is buffered at once: a process starved of CPU for that long runs the timer
    // before it reads the pipe, and destroying the socket then would lose the probe's output
    await Promise.race([drained, new Promise((r) => setTimeout(r, 1000).unref())]);
    if (!output.destroyed) {
      output.pause();
      takeBuffered(outRead, keep);
    }
    output.destroy();
    return { exitCode: timedOut ? -1 : code, output: Buffer.concat(chunks), timedOut };
  })();
  return { started, done };
}
