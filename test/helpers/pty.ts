/**
 * A command on a real pseudo-terminal, driven from a test: python3's pty
 * module (test/helpers/pty-bridge.py) runs it on a new terminal (24x80) and
 * bridges it to pipes. type() sends bytes as typed (ctrl-p is '\x10'), until()
 * waits for the screen's text to match, untilRaw() for whoever holds the
 * terminal (tsrun's monitor or attach client) to have made it raw, resize()
 * makes it 30x100 (and says when), exited resolves with the status once all
 * output is in.
 *
 * Waiting is on events, never on time: a loaded CI machine may take seconds
 * for what takes milliseconds here, so every wait has a generous limit that a
 * passing test never reaches.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { REPO, TSRUN } from './cli.js';

/** How long a test waits for something that takes well under a second on an idle machine. */
export const PATIENCE = 30_000;

export class PtySession {
  readonly child: ChildProcess;
  text = '';
  /** the terminal's mode as pty-bridge.py last reported it */
  mode: 'raw' | 'cooked' | undefined;
  /** resizes pty-bridge.py reported done */
  resizes = 0;
  /** the status, once the bridge exited and its output and reports are all read ('close', not 'exit') */
  readonly exited: Promise<number>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn('python3', [path.join(REPO, 'test', 'helpers', 'pty-bridge.py'), process.execPath, '--', TSRUN, ...args], {
      stdio: ['pipe', 'pipe', 'inherit', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.text += d.toString('latin1')));
    let modes = '';
    (this.child.stdio[3] as Readable).on('data', (d: Buffer) => {
      modes += d.toString();
      const lines = modes.split('\n');
      modes = lines.pop()!;
      for (const l of lines) {
        if (l === 'resized') this.resizes++;
        else this.mode = l as 'raw' | 'cooked';
      }
    });
    this.exited = new Promise((resolve) => this.child.on('close', (code, sig) => resolve(code ?? (sig ? 128 : -1))));
  }

  type(s: string): void {
    this.child.stdin!.write(Buffer.from(s, 'latin1'));
  }

  /** Keys one at a time, a pause between: as a person types them (each likely a read of its own). */
  async keys(...ks: string[]): Promise<void> {
    for (const k of ks) {
      this.type(k);
      await sleep(150);
    }
  }

  /** Waits until the output (from `from` on) matches. */
  async until(re: RegExp, ms = PATIENCE, from = 0): Promise<void> {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (re.test(this.text.slice(from))) return;
    assert.match(this.text.slice(from), re);
  }

  /**
   * Waits until the terminal is raw: tsrun's attach client or monitor took it, and what is typed
   * from now on reaches it byte by byte (the detach keys included; in cooked mode the line
   * discipline would hold keys until Enter, echo them and swallow ctrl-q).
   */
  async untilRaw(ms = PATIENCE): Promise<void> {
    for (const end = Date.now() + ms; Date.now() < end && this.mode !== 'raw'; ) await sleep(20);
    assert.equal(this.mode, 'raw', `the terminal never went raw; screen: ${JSON.stringify(this.text)}`);
  }

  /** The exit status, failing the test if it does not come within ms. */
  async exit(ms = PATIENCE): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still running after ${ms} ms; screen: ${JSON.stringify(this.text)}`)), ms)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The terminal becomes 30 rows by 100 columns (test/helpers/pty-bridge.py); resolves once it
   * is, so the SIGWINCH to whoever holds the terminal is queued before anything typed after.
   */
  async resize(ms = PATIENCE): Promise<void> {
    const want = this.resizes + 1;
    this.child.kill('SIGUSR1');
    await waitFor('the terminal resized', () => this.resizes >= want, ms);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once fn() is true (checked every 50 ms); fails the test with `what` after ms. */
export async function waitFor(what: string, fn: () => boolean, ms = PATIENCE): Promise<void> {
  for (const end = Date.now() + ms; !fn(); await sleep(50)) if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
}

/** A /proc file of pid, or undefined once the process is gone (a read racing its exit fails with ESRCH). */
function procFile(pid: number, name: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** pid and its descendants (host PIDs), parents first; processes gone meanwhile are left out. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.shift()!;
    const tasks = (() => {
      try {
        return fs.readdirSync(`/proc/${p}/task`);
      } catch {
        return undefined;
      }
    })();
    if (!tasks) continue;
    out.push(p);
    for (const t of tasks) {
      const kids = procFile(p, `task/${t}/children`);
      if (kids) todo.push(...kids.trim().split(/\s+/).filter(Boolean).map(Number));
    }
  }
  return out;
}

/**
 * Whether a process with this argv, below pid (or pid itself), runs in the foreground of its
 * terminal: its process group is the terminal's (stat's pgrp equals tpgid) and it is not stopped.
 * Only then does a ctrl-c or ctrl-z typed on the container's terminal reach it rather than the
 * shell that is still starting it.
 */
export function inForeground(pid: number, argv: string[]): boolean {
  for (const p of processTree(pid)) {
    if (procFile(p, 'cmdline') !== argv.join('\0') + '\0') continue;
    const stat = procFile(p, 'stat');
    if (!stat) continue;
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state ppid pgrp session tty_nr tpgid …
    if (f[0] !== 'T' && f[0] !== 'Z' && f[2] === f[5]) return true;
  }
  return false;
}

/**
 * Whether pid has a handler for signal signo (its SigCgt mask). busybox's line editor installs
 * its SIGWINCH handler just after it printed the prompt and takes it away when a line is read:
 * with it in place, a resize (an attach's) makes the shell redraw its prompt.
 */
export function catches(pid: number, signo: number): boolean {
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(procFile(pid, 'status') ?? '');
  return !!m && ((BigInt('0x' + m[1]) >> BigInt(signo - 1)) & 1n) === 1n;
}

export const SIGWINCH = 28;
