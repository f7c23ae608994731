/**
 * Spawns tsrun-init with a plan and reads its one status line. The only
 * place that speaks the launcher's protocol (see native/init/init.h):
 * fd 3 carries the plan in, fd 4 the status out.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { native } from '../native.js';
import { TsrunError } from '../util/errors.js';

export interface Launched {
  /** Host PID of the container process (or exec'd process). */
  pid: number;
  /** PID of the tsrun-init monitor. */
  monitorPid: number;
  /** Resolves with the monitor's exit status: the container's code (foreground only). */
  wait(): Promise<number>;
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(os.constants.errno).map(([k, v]) => [v as number, k]));
const FORWARD: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** A failed step of the launcher → the error docker would give (127/126 for exec, else 125). */
export function launchError(step: string, errno: number, detail: string): TsrunError {
  const code = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
  if (step === 'exec') {
    if (errno === os.constants.errno.ENOENT || errno === os.constants.errno.ENOTDIR) {
      return new TsrunError('EXEC_NOT_FOUND', `exec: ${JSON.stringify(detail)}: executable file not found in $PATH`, { hint: 'check the command and the image' });
    }
    if (errno === os.constants.errno.EACCES || errno === os.constants.errno.ENOEXEC || errno === os.constants.errno.EISDIR) {
      return new TsrunError('EXEC_DENIED', `exec: ${JSON.stringify(detail)}: permission denied`, { hint: 'the file is not an executable the container can run' });
    }
  }
  if (step === 'chdir') {
    return new TsrunError('SYSCALL', `cannot change to working directory ${detail}: ${code}`, { hint: 'check -w and the image WorkingDir' });
  }
  return new TsrunError('SYSCALL', `cannot start container: ${step}${detail ? ` ${detail}` : ''}: ${code}`, {
    hint: code === 'EPERM' || code === 'EACCES' ? 'tsrun needs to run as root' : 'run with --debug for details',
  });
}

function readStatusLine(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        stream.off('data', onData);
        stream.off('end', onEnd);
        resolve(buf.slice(0, nl));
      }
    };
    const onEnd = () => resolve(buf);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onEnd);
  });
}

/**
 * `onSpawn` runs synchronously right after the launcher exists and before the
 * plan is even written to it: the caller records the monitor PID there, so a
 * tsrun killed at any later moment leaves a record that `refresh` can follow.
 *
 * `plan` may be a function: it is then called after the spawn, so the plan is
 * built while the launcher execs and seals itself (2-5 ms of its start-up off
 * the critical path); the launcher just waits on fd 3. If building the plan
 * throws, the launcher is killed (it has done nothing yet) and the error goes on.
 */
export async function launch(plan: Buffer | (() => Buffer), opts: { detach: boolean; onSpawn?: (monitorPid: number) => void }): Promise<Launched> {
  const stdio: StdioOptions = opts.detach ? ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] : ['inherit', 'inherit', 'inherit', 'pipe', 'pipe'];
  let child: ChildProcess;
  try {
    child = spawn(native().initPath(), [], { stdio, detached: opts.detach });
  } catch (err) {
    throw new TsrunError('SYSCALL', `cannot start the launcher: ${(err as Error).message}`, { hint: 'run `npm install` to build native/' });
  }
  if (child.pid) opts.onSpawn?.(child.pid);
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
    child.on('error', () => resolve(125));
  });
  // signals sent to tsrun reach the container through the monitor, from the moment it exists
  // (the launcher blocks them first thing and queues them until the container runs)
  const forward = (sig: NodeJS.Signals) => {
    try {
      child.kill(sig);
    } catch {
      /* already gone */
    }
  };
  if (!opts.detach) for (const s of FORWARD) process.on(s, forward);
  const stopForwarding = () => {
    for (const s of FORWARD) process.off(s, forward);
  };
  const planPipe = child.stdio[3] as Writable;
  planPipe.on('error', () => {}); // a launcher that dies early reports through the status line
  let encoded: Buffer;
  try {
    encoded = typeof plan === 'function' ? plan() : plan;
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    stopForwarding();
    throw err;
  }
  planPipe.end(encoded);
  const line = await readStatusLine(child.stdio[4] as Readable);
  (child.stdio[4] as Readable).destroy();
  const f = line.split('\t');
  if (f[0] !== 'ok') {
    await exited;
    stopForwarding();
    if (f[0] === 'err') throw launchError(f[1] ?? '?', Number(f[2]), f[3] ?? '');
    throw new TsrunError('INTERNAL', 'the launcher tsrun-init exited without reporting', { hint: 'run `npm install` to rebuild native/' });
  }
  const pid = Number(f[1]);
  if (opts.detach) {
    child.unref();
    return { pid, monitorPid: child.pid!, wait: () => Promise.resolve(0) };
  }
  return {
    pid,
    monitorPid: child.pid!,
    wait: async () => {
      const code = await exited;
      stopForwarding();
      return code;
    },
  };
}
