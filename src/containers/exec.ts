/**
 * exec: run another process in a running container: its spec (a process, the
 * container's namespaces by path) goes to tsrun-init, which joins them and the
 * cgroup and applies the same confinement (capabilities, seccomp,
 * no_new_privs) as the container's own.
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
import type { ProcessSpec } from '../runtime/spec/process.js';
import { launch, type Launched } from '../runtime/launch.js';

/**
 * Launched under the container's lock (a locked transition); the caller waits for the process after it is released.
 * `detachKeys`: for `exec -it` (see execSpec).
 */
export async function execInContainer(ctx: Ctx, c0: Container, proc: ProcessSpec, detachKeys?: number[]): Promise<Launched> {
  return transition(ctx, c0, 'exec', (c) => {
    if (!sameProcessAlive(c.state.pid, c.state.pidStart)) throw conflict(`container ${c.config.name} is not running`, `see tsrun ps -a`);
    const procs = cgroupDirs(c.config.id, ctx)
      .dirs.map((d) => path.join(d, 'cgroup.procs'))
      .filter((f) => fs.existsSync(f));
    return launch(specJson(execSpec(ctx, c, c.state.pid!, procs, proc, detachKeys)), { detach: proc.detach });
  });
}
