/**
 * attach: the user's terminal (or plain stdio) on a running container's
 * monitor, through its attach socket (native/init/attach.c): output from now
 * on, input to its stdin when it was created with -i, until the container
 * exits (its code becomes ours) or the detach keys let go of it. docker's
 * checks and messages first: a stopped, paused or restarting container is
 * refused, and a terminal container needs a terminal on stdin.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { findContainer, readContainer } from '../containers/record.js';
import { refresh } from '../containers/status.js';
import { isRestarting } from '../containers/restart-policy.js';
import { conflict, TsrunError } from '../util/errors.js';
import { attachSocket } from '../runtime/attach-client.js';

export interface AttachFlags {
  noStdin: boolean;
  sigProxy: boolean;
  /** detach keys (bytes), already resolved from --detach-keys or config.json */
  keys: number[];
}

const stopped = () => conflict('You cannot attach to a stopped container, start it first');

/** The container's exit code, or 'detached' when the keys let go of it. */
export async function attachContainer(ctx: Ctx, ref: string, o: AttachFlags): Promise<number | 'detached'> {
  const c = refresh(ctx, findContainer(ctx, ref));
  if (c.state.status === 'paused') throw conflict('You cannot attach to a paused container, unpause it first');
  if (isRestarting(c)) throw conflict('You cannot attach to a restarting container, wait until it is running');
  if (c.state.status !== 'running') throw stopped();
  const tty = c.config.tty;
  if (tty && !o.noStdin && !process.getBuiltinModule('node:tty').isatty(0)) {
    throw new TsrunError('USAGE', 'the input device is not a TTY', { exitCode: 1 });
  }
  const socket = path.join(c.dir, 'attach');
  if (!fs.existsSync(socket)) {
    throw conflict(`cannot attach to ${c.config.name}: its monitor has no attach socket`, 'a foreground `run --rm` without -i or -t has none (nor what an older tsrun started): run it with -d, -i or -t, or without --rm');
  }
  const stdin = !o.noStdin && c.config.openStdin;
  // docker's StdinOnce (run -i, create -i): the end of our stdin closes the container's (a pipe's)
  const end = await attachSocket(socket, { stdin, stdinOnce: stdin && !!c.config.stdinOnce, tty, sigProxy: o.sigProxy, keys: o.keys });
  switch (end.kind) {
    case 'exit':
      return end.code;
    case 'detached':
      return 'detached';
    case 'signal':
      return 128 + end.signo;
    case 'refused':
      throw stopped(); // it ended between the check and the connect
    case 'gone': {
      // the monitor died without telling (SIGKILL): what the record says now
      const fresh = readContainer(ctx, c.config.id);
      return (fresh ? refresh(ctx, fresh).state.exitCode : undefined) ?? 125;
    }
  }
}
