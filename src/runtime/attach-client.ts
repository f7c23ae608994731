/**
 * `tsrun attach`'s client: tsrun-init run with the one frame
 * "attach=FLAGS\x1fKEYS\x1fPATH" (native/init/attach_client.c) holds the
 * terminal and speaks to the container's monitor over its attach socket;
 * tsrun spawns it on its own stdio, as a foreground launcher, and waits.
 * The status pipe says "ok" once it is connected (or "err": nothing listens),
 * then how it ended.
 */
import fs from 'node:fs';
import { native } from '../native.js';
import { FORWARD, awaitEof } from './launch.js';
import { writeFully } from '../util/fdwrite.js';
import { TsrunError } from '../util/errors.js';

export type AttachEnd =
  | { kind: 'exit'; code: number } // the container exited
  | { kind: 'detached' } // the detach keys came
  | { kind: 'signal'; signo: number } // a signal ended the attach (no proxying)
  | { kind: 'gone' } // the monitor went away without a word
  | { kind: 'refused'; errno: number }; // nothing listens on the socket: not running

export interface AttachOptions {
  stdin: boolean;
  /** the end of our stdin closes the container's (docker's StdinOnce) */
  stdinOnce?: boolean;
  tty: boolean;
  sigProxy: boolean;
  keys: number[];
}

/** The status pipe's first line, read blocking (it comes as soon as the client connected), and what came after it. */
function firstLine(fd: number): [string, string] {
  const buf = Buffer.alloc(256);
  let text = '';
  for (;;) {
    let got: number;
    try {
      got = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN' || (err as NodeJS.ErrnoException).code === 'EINTR') continue;
      throw err;
    }
    text += buf.toString('latin1', 0, got);
    const nl = text.indexOf('\n');
    if (nl >= 0) return [text.slice(0, nl), text.slice(nl + 1)];
    if (got === 0) return [text, ''];
  }
}

export async function attachSocket(socket: string, o: AttachOptions): Promise<AttachEnd> {
  const n = native();
  const flags = `${o.stdin ? 'i' : ''}${o.tty ? 't' : ''}${o.sigProxy ? 'p' : ''}${o.stdinOnce ? 'o' : ''}`;
  const frame = `attach=${flags}\x1f${Buffer.from(o.keys).toString('hex')}\x1f${socket}\0`;
  let child: { pid: number; planFd: number; statusFd: number };
  try {
    child = n.spawnLauncher(n.initPath(), false);
  } catch (err) {
    throw new TsrunError('SYSCALL', `cannot start the attach client: ${(err as Error).message}`, { hint: 'run `npm install` to build native/' });
  }
  // tsrun's signals go to the client, which passes them on (--sig-proxy) or ends
  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(child.pid, sig);
    } catch {
      /* gone */
    }
  };
  for (const s of FORWARD) process.on(s, forward);
  try {
    try {
      writeFully(child.planFd, Buffer.from(frame));
    } finally {
      fs.closeSync(child.planFd);
    }
    const [line, early] = firstLine(child.statusFd);
    const first = line.split('\t');
    if (first[0] !== 'ok') {
      fs.closeSync(child.statusFd);
      n.waitpid(child.pid, true);
      return { kind: 'refused', errno: Number(first[2] ?? 0) };
    }
    const rest = early + (await awaitEof(child.statusFd));
    fs.closeSync(child.statusFd);
    n.waitpid(child.pid, true);
    const f = rest.split('\n')[0]!.split('\t');
    if (f[0] === 'exit') return { kind: 'exit', code: Number(f[1]) };
    if (f[0] === 'detached') return { kind: 'detached' };
    if (f[0] === 'signal') return { kind: 'signal', signo: Number(f[1]) };
    return { kind: 'gone' };
  } finally {
    for (const s of FORWARD) process.off(s, forward);
  }
}
