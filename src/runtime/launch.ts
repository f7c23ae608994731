/**
 * Spawns tsrun-init with a spec and reads its one status line. The only
 * place that speaks the launcher's protocol (see native/init/init.h):
 * fd 3 carries the spec in (in frames), fd 4 the status out.
 */
import fs from 'node:fs';
import { native } from '../native.js';
import { TsrunError } from '../util/errors.js';
import { writeFully } from '../util/fdwrite.js';
import { os } from '../util/builtins.js';
import { mark } from '../util/trace.js';
import type { SpecNamespace } from './spec/types.js';

export interface Launched {
  /** Host PID of the container process (or exec'd process). */
  pid: number;
  /** PID of the tsrun-init monitor. */
  monitorPid: number;
  /** Resolves with the monitor's exit status: the container's code (foreground only). */
  wait(): Promise<number>;
  /**
   * The same, or 'detached' when the user typed the detach keys on a foreground run's
   * terminal: the monitor goes on alone with the container (and is not waited for).
   */
  waitOrDetach(): Promise<number | 'detached'>;
}

export const FORWARD: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** A failed step of the launcher → the error docker would give (127/126 for exec, else 125). */
export function launchError(step: string, errno: number, detail: string): TsrunError {
  const E = os().constants.errno;
  const code = Object.entries(E).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
  if (step === 'exec') {
    if (errno === E.ENOENT || errno === E.ENOTDIR) {
      return new TsrunError('EXEC_NOT_FOUND', `exec: ${JSON.stringify(detail)}: executable file not found in $PATH`, { hint: 'check the command and the image' });
    }
    if (errno === E.EACCES || errno === E.ENOEXEC || errno === E.EISDIR) {
      return new TsrunError('EXEC_DENIED', `exec: ${JSON.stringify(detail)}: permission denied`, { hint: 'the file is not an executable the container can run' });
    }
  }
  if (step === 'mount target is the root') {
    // tsrun-init resolved the target inside the root and found the root itself (an image's `/x -> /`)
    return new TsrunError('UNSAFE_PATH', `cannot mount on ${detail}: it resolves to the container's root`, {
      hint: 'a symlink in the image points it at /; mount on another path',
    });
  }
  if (step === 'create mount point' && (errno === E.ENOENT || errno === E.ENOTDIR || errno === E.ELOOP)) {
    // the image's own tree is in the way (say /etc is a file, or a symlink to nothing): name it
    const parent = detail.slice(0, detail.lastIndexOf('/')) || '/';
    const kind = errno === E.ENOTDIR ? 'is a file (or a symlink to one)' : errno === E.ELOOP ? 'is a symlink loop' : 'is a symlink to nothing';
    return new TsrunError('INVALID_ARCHIVE', `cannot create mount point ${detail}: in the image, ${parent} or a directory above it ${kind}, not a directory (${code})`, {
      hint: `fix the image so that ${parent} is a directory`,
    });
  }
  if (step === 'cgroup') {
    // the launcher made the cgroup from the spec and could not write a limit (native/cgroup/'s one line)
    return new TsrunError('SYSCALL', detail, { hint: 'see "Resource limits" in the README for what this host supports' });
  }
  if (step.endsWith(' hook')) {
    // one of the spec's hooks failed or timed out (native/init/hooks.c says which and how)
    return new TsrunError('SYSCALL', `cannot start container: ${detail}`, { hint: "check the spec's hooks" });
  }
  if (step === 'chdir') {
    return new TsrunError('SYSCALL', `cannot change to working directory ${detail}: ${code}`, { hint: 'check -w and the image WorkingDir' });
  }
  return new TsrunError('SYSCALL', `cannot start container: ${step}${detail ? ` ${detail}` : ''}: ${code}`, {
    hint: code === 'EPERM' || code === 'EACCES' ? 'tsrun needs to run as root' : 'run with --debug for details',
  });
}

/**
 * The launcher's one status line, read blocking: it comes within milliseconds
 * (the launcher reports as soon as the container process has exec'd or a step
 * failed), and nothing else has to run meanwhile. Signals that arrive are
 * handled, and forwarded, right after.
 */
export function readStatusLine(fd: number): string {
  const buf = Buffer.alloc(512);
  let line = '';
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN' || (err as NodeJS.ErrnoException).code === 'EINTR') continue;
      throw err;
    }
    if (n === 0) return line;
    line += buf.toString('utf8', 0, n);
    const nl = line.indexOf('\n');
    if (nl >= 0) return line.slice(0, nl);
  }
}

/**
 * Resolves at EOF on the status pipe with what came after the status line: the monitor keeps
 * it open until it exits, or writes "detached" and closes it when the detach keys let tsrun go
 * (an attach client: its last line). Read on libuv's pool.
 */
export function awaitEof(fd: number): Promise<string> {
  const buf = Buffer.alloc(64);
  let text = '';
  return new Promise((resolve) => {
    const next = () =>
      fs.read(fd, buf, 0, buf.length, null, (err, n) => {
        if (err && (err.code === 'EAGAIN' || err.code === 'EINTR')) return next();
        if (err || n === 0) return resolve(text);
        text += buf.toString('latin1', 0, n);
        next();
      });
    next();
  });
}

function exitStatus(r: { code?: number; signal?: number } | null): number {
  if (!r) return 125;
  return r.signal !== undefined ? 128 + r.signal : (r.code ?? 125);
}

/**
 * A launcher that has been started and waits for its spec. tsrun-init is
 * spawned by the addon (posix_spawn), not node:child_process, whose load and
 * spawn cost ~5 ms of every run (native/addon/spawn.c). `run` spawns it before
 * it even creates the container, so the launcher's start-up (it re-executes
 * itself from a sealed copy, ~1.3 ms) overlaps that work.
 *
 * Its input goes out in three steps: a run's linux.namespaces (at spawn), the
 * spec (`early`), then the go (`complete` closes fd 3). The container process
 * is forked with the namespaces (cgroup v1 hosts) or the spec (v2); it joins
 * its cgroup and sets up its filesystem while tsrun records the start (or
 * sets up the network), and execs only after the go.
 *
 * Signals sent to tsrun reach the container through the monitor: the
 * handlers are installed here, before anything is launched, and a signal that
 * comes before the container's PID is known is queued and sent on once it
 * is (the monitor itself blocks them first thing and queues them until the
 * container runs).
 */
export class PendingLaunch {
  readonly monitorPid: number;
  private readonly planFd: number;
  private readonly statusFd: number;
  private planOpen = true;
  private statusOpen = true;
  private earlySent = false;
  private status: number | undefined;
  private readonly n = native();
  /** signals that came before the launcher reported (sent on with the "ok"), or undefined once it did */
  private queued: NodeJS.Signals[] | undefined = [];
  private readonly forward = (sig: NodeJS.Signals) => {
    if (this.queued) this.queued.push(sig);
    else this.kill(sig);
  };
  /** work the caller does once the go is sent, while the container process sets itself up (see whileStarting) */
  private prepare: (() => Promise<unknown>) | undefined;

  /**
   * `namespaces`: a run's linux.namespaces, written at once; none for an exec (its spec comes
   * in complete). `stdio`: the foreground launcher's fds 0-2 instead of tsrun's own (a build
   * step reads its output). `forwardSignals` false: tsrun's own signals are not passed on (a
   * build handles them).
   */
  constructor(
    private readonly detach: boolean,
    namespaces?: SpecNamespace[],
    stdio?: [number, number, number],
    private readonly forwardSignals = true,
  ) {
    if (!detach && forwardSignals) for (const s of FORWARD) process.on(s, this.forward);
    let child: { pid: number; planFd: number; statusFd: number };
    try {
      child = stdio ? this.n.spawnLauncher(this.n.initPath(), detach, stdio) : this.n.spawnLauncher(this.n.initPath(), detach);
    } catch (err) {
      this.stopForwarding();
      throw new TsrunError('SYSCALL', `cannot start the launcher: ${(err as Error).message}`, { hint: 'run `npm install` to build native/' });
    }
    this.monitorPid = child.pid;
    this.planFd = child.planFd;
    this.statusFd = child.statusFd;
    writePlan(this.planFd, Buffer.from(namespaces ? `${JSON.stringify(namespaces)}\0` : '\0'));
    mark('spawned');
  }

  private stopForwarding(): void {
    for (const s of FORWARD) process.off(s, this.forward);
  }

  /**
   * Work to do after the go, before the wait for the status line: the launcher's container
   * process then still mounts its filesystem and confines itself (milliseconds in which tsrun
   * would only wait), so what is done here is off the path to the container's start, and off
   * what follows it (`run --rm` loads its removal's modules here).
   */
  whileStarting(prepare: () => Promise<unknown>): void {
    this.prepare = prepare;
  }

  /** The spec (JSON text). Sent at most once. */
  early(spec: string): void {
    if (this.earlySent) return;
    this.earlySent = true;
    writePlan(this.planFd, Buffer.from(`${spec}\0`));
  }

  /** Kill a launcher that will not get its spec (it has started nothing yet, or only a child that dies with it). */
  abort(): void {
    this.stopForwarding();
    if (this.status !== undefined) return;
    this.closePlan();
    this.kill('SIGKILL');
    this.reap();
  }

  private closePlan(): void {
    if (this.planOpen) fs.closeSync(this.planFd);
    this.planOpen = false;
  }

  private closeStatus(): void {
    if (this.statusOpen) fs.closeSync(this.statusFd);
    this.statusOpen = false;
  }

  private kill(sig: NodeJS.Signals): void {
    try {
      process.kill(this.monitorPid, sig);
    } catch {
      /* already gone */
    }
  }

  /** The launcher's exit status, once it has exited (it closes the status pipe as it goes). Once only. */
  private reap(): number {
    this.closeStatus();
    this.status ??= exitStatus(this.n.waitpid(this.monitorPid, true));
    return this.status;
  }

  /**
   * The go (for an exec: its spec, then the go), and the status line. A
   * signal queued meanwhile is sent on to the monitor once the container
   * runs; if it failed to start, the queued signals die with it.
   */
  async complete(execSpec?: string): Promise<Launched> {
    let line: string;
    try {
      try {
        if (execSpec !== undefined) writePlan(this.planFd, Buffer.from(execSpec));
      } finally {
        this.closePlan();
      }
      mark('go sent');
      if (!this.detach) {
        // the wait for the container's end reads on libuv's pool (awaitEof): its threads are
        // made on first use, here rather than once the container runs (the callback is no-op)
        fs.access('/', () => {});
      }
      if (this.prepare) await this.prepare().catch(() => {}); // the caller does it again, and sees its error, when it needs it
      line = readStatusLine(this.statusFd);
      mark('status read');
    } catch (err) {
      this.kill('SIGKILL'); // it has not reported: whatever it is doing, it must not go on
      this.reap();
      this.stopForwarding();
      throw err;
    }
    const f = line.split('\t');
    if (f[0] !== 'ok') {
      this.reap();
      this.stopForwarding();
      if (f[0] === 'err') throw launchError(f[1] ?? '?', Number(f[2]), f[3] ?? '');
      throw new TsrunError('INTERNAL', 'the launcher tsrun-init exited without reporting', { hint: 'run `npm install` to rebuild native/' });
    }
    const pid = Number(f[1]);
    const monitorPid = this.monitorPid;
    const queued = this.queued ?? [];
    this.queued = undefined;
    for (const s of queued) this.kill(s);
    if (this.detach) {
      this.closeStatus(); // the monitor runs on alone; it is reparented when tsrun exits
      return { pid, monitorPid, wait: () => Promise.resolve(0), waitOrDetach: () => Promise.resolve(0) };
    }
    const waitOrDetach = async (): Promise<number | 'detached'> => {
      const rest = await awaitEof(this.statusFd);
      if (rest.startsWith('detached\n')) {
        // the monitor runs on alone with the container; it is reparented when tsrun exits
        this.closeStatus();
        this.stopForwarding();
        return 'detached';
      }
      const code = this.reap();
      this.stopForwarding();
      return code;
    };
    return {
      pid,
      monitorPid,
      waitOrDetach,
      wait: async () => {
        const r = await waitOrDetach();
        return r === 'detached' ? 0 : r;
      },
    };
  }
}

/** An exec: spawn, its spec, the go, in one go. */
export async function launch(spec: string, opts: { detach: boolean }): Promise<Launched> {
  return new PendingLaunch(opts.detach).complete(spec);
}

/** All of data. A launcher that died early gets EPIPE: it reports through the status line. */
function writePlan(fd: number, data: Buffer): void {
  try {
    writeFully(fd, data);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
  }
}
