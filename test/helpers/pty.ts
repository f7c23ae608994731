/**
 * A command on a real pseudo-terminal, driven from a test: python3's pty
 * module (test/helpers/pty-bridge.py) runs it on a new terminal (24x80) and
 * bridges it to pipes. type() sends bytes as typed (ctrl-p is '\x10'), until()
 * waits for the screen's text to match, resize() makes it 30x100, exited
 * resolves with the status.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import assert from 'node:assert/strict';
import { REPO, TSRUN } from './cli.js';

export class PtySession {
  readonly child: ChildProcess;
  text = '';
  readonly exited: Promise<number>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn('python3', [path.join(REPO, 'test', 'helpers', 'pty-bridge.py'), process.execPath, '--', TSRUN, ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.text += d.toString('latin1')));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : -1))));
  }

  type(s: string): void {
    this.child.stdin!.write(Buffer.from(s, 'latin1'));
  }

  /** Keys one at a time, a pause between: as a person types them. */
  async keys(...ks: string[]): Promise<void> {
    for (const k of ks) {
      this.type(k);
      await sleep(150);
    }
  }

  /** Waits until the output (from `from` on) matches. */
  async until(re: RegExp, ms = 15_000, from = 0): Promise<void> {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (re.test(this.text.slice(from))) return;
    assert.match(this.text.slice(from), re);
  }

  /** The exit status, failing the test if it does not come within ms. */
  async exit(ms = 15_000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still running after ${ms} ms; screen: ${JSON.stringify(this.text)}`)), ms)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The terminal becomes 30 rows by 100 columns (test/helpers/pty-bridge.py). */
  resize(): void {
    this.child.kill('SIGUSR1');
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
