/**
 * `RUN <<EOF` whose body starts with `#!`: BuildKit writes the body to a file (mode 0755)
 * mounted read-only at /dev/pipes/ and runs that file (`/bin/sh -c /dev/pipes/EOF`). Here
 * the files go to a temp dir bind-mounted there for the step only; /dev is the container's
 * own tmpfs, so nothing of it reaches the layer.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Ctx } from '../../context.js';

/** The `-v` spec for the step's scripts, or undefined when it has none; cleanups remove the dir. */
export function scriptsVolume(ctx: Ctx, scripts: readonly { path: string; data: string }[], cleanups: (() => void)[]): string | undefined {
  if (!scripts.length) return undefined;
  const dir = path.join(ctx.tmpDir, `${process.pid}-pipes-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(dir, { mode: 0o755 });
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const s of scripts) {
    const f = path.join(dir, path.posix.basename(s.path));
    fs.writeFileSync(f, s.data, { mode: 0o755 });
    fs.chmodSync(f, 0o755);
  }
  return `${dir}:/dev/pipes:ro`;
}
