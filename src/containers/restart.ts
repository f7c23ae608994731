/**
 * restart: stop (with the grace period), then start again with the runtime's
 * start (src/containers/start.ts, imported lazily: it belongs to the launcher).
 */
import type { Ctx } from '../context.js';
import { TsrunError } from '../util/errors.js';
import fs from 'node:fs';
import path from 'node:path';
import { readContainer, type Container } from './record.js';
import { stopContainer, type StopOptions } from './stop.js';

type StartFn = (ctx: Ctx, c: Container, ...rest: unknown[]) => unknown;

async function loadStart(): Promise<StartFn> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import('./start.js' as string)) as Record<string, unknown>;
  } catch (err) {
    throw new TsrunError('UNSUPPORTED', 'cannot restart: starting containers is not available in this build', { cause: err });
  }
  const fn = mod.startContainer ?? mod.start ?? mod.default;
  if (typeof fn !== 'function') throw new TsrunError('INTERNAL', 'src/containers/start.ts exports no start function');
  return fn as StartFn;
}

export async function restartContainer(ctx: Ctx, c0: Container, opts: StopOptions = {}): Promise<Container> {
  const start = await loadStart();
  const stopped = await stopContainer(ctx, c0, opts);
  // the old exit record must not make the new run look exited at once (start may remove it too)
  fs.rmSync(path.join(stopped.dir, 'exit.json'), { force: true });
  await start(ctx, stopped);
  return readContainer(ctx, stopped.config.id) ?? stopped;
}
