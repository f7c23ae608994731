/**
 * run = create + start + (wait + --rm cleanup), or -d: start and return the ID.
 * The container's exit status becomes tsrun's.
 */
import type { Ctx } from './context.js';
import { resolveImageForRun, parsePullPolicy } from './run-image.js';
import { createContainer } from '../containers/create.js';
import { startContainer } from '../containers/start.js';
import { readContainer, type Container } from '../containers/record.js';
import type { RunFlags } from '../containers/options.js';

export interface RunResult {
  id: string;
  /** Exit status of the container (foreground runs). */
  exitCode?: number;
}

async function autoRemove(ctx: Ctx, c: Container): Promise<void> {
  const { removeContainer } = await import('../containers/rm.js');
  const fresh = readContainer(ctx, c.config.id);
  if (fresh) await removeContainer(ctx, fresh, { force: true });
}

export async function createOnly(ctx: Ctx, image: string, cmd: string[], flags: RunFlags): Promise<Container> {
  const img = await resolveImageForRun(ctx, image, parsePullPolicy(flags.pull));
  return createContainer(ctx, image, img, cmd, flags);
}

export async function runContainer(ctx: Ctx, image: string, cmd: string[], flags: RunFlags): Promise<RunResult> {
  const c = await createOnly(ctx, image, cmd, flags);
  let started;
  try {
    started = await startContainer(ctx, c, { detach: flags.detach });
  } catch (err) {
    if (flags.rm) await autoRemove(ctx, c).catch(() => {});
    throw err;
  }
  if (flags.detach) return { id: c.config.id };
  const exitCode = await started.launched.wait();
  if (flags.rm) await autoRemove(ctx, c);
  else {
    const { refresh } = await import('../containers/status.js');
    const fresh = readContainer(ctx, c.config.id);
    if (fresh) refresh(ctx, fresh);
  }
  return { id: c.config.id, exitCode };
}
