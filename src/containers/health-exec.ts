/**
 * A healthcheck's probe: exec'd into the running container as `tsrun exec`
 * does (same spec, launcher, namespaces, cgroup and confinement; the
 * container's user, environment and working directory, as docker's probes),
 * with its output captured and a timeout (runtime/launch-captured.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { conflict } from '../util/errors.js';
import type { Container } from './record.js';
import { sameProcessAlive } from './status.js';
import { transition } from './transition.js';
import { cgroupDirs } from '../runtime/cgroups.js';
import { execSpec, specJson } from '../runtime/spec/build.js';
import { launchCaptured, type CapturedResult } from '../runtime/launch-captured.js';

/** Launched under the container's lock; the wait for the probe's end happens after it is released. */
export async function execProbe(ctx: Ctx, c0: Container, argv: string[], opts: { timeoutMs: number; maxOutput: number }): Promise<CapturedResult> {
  const done = await transition(ctx, c0, 'exec', async (c) => {
    if (!sameProcessAlive(c.state.pid, c.state.pidStart)) throw conflict(`container ${c.config.name} is not running`, 'see tsrun ps -a');
    const procs = cgroupDirs(c.config.id, ctx)
      .dirs.map((d) => path.join(d, 'cgroup.procs'))
      .filter((f) => fs.existsSync(f));
    const spec = execSpec(ctx, c, c.state.pid!, procs, {
      args: argv,
      env: c.config.env,
      cwd: c.config.workingDir,
      user: c.config.user,
      tty: false,
      openStdin: false,
      detach: false,
    });
    const l = launchCaptured(specJson(spec), opts);
    await l.started;
    return l.done;
  });
  return done;
}
