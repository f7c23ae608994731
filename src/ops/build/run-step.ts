/**
 * A RUN step: a container made from the current build state exactly as `tsrun run` makes
 * one (createContainer with run's flags and defaults: same confinement), its command run
 * attached by a child `tsrun start -a` (so its output can be streamed with the step's
 * prefix and its tail kept for the error), then its changes written by commit's layer
 * writer. The container is removed whatever happens; the caller adopts the layer.
 */
import { spawn } from 'node:child_process';
import type { Ctx } from '../../context.js';
import type { Image, ImageRecord } from '../../images/store.js';
import type { ImageConfig, Manifest } from '../../oci/types.js';
import { createContainer } from '../../containers/create.js';
import { readContainer, type Container } from '../../containers/record.js';
import type { RunFlags } from '../../containers/options.js';
import { makeCommitLayer, type LayerTemps } from '../commit-layer.js';
import type { Step } from './stage-plan.js';

/** bin/tsrun: the script this process runs (the bundle's import.meta.url is not this file's). */
const TSRUN_BIN = process.argv[1]!;

export interface RunState {
  record: ImageRecord;
  manifest: Manifest;
  config: ImageConfig;
  chainIds: string[];
}

export interface RunOutcome {
  exitCode: number;
  /** The last lines the command printed. */
  tail: string[];
  layer?: LayerTemps;
  signal?: string;
}

/** RUN's network: run's default bridge, none, or the host's. */
export type RunNetwork = 'bridge' | 'none' | 'host';

function runFlags(step: Extract<Step, { kind: 'run' }>, network: RunNetwork): RunFlags {
  return {
    env: step.env,
    envFile: [],
    workdir: step.workdir,
    user: step.user,
    volume: [],
    tmpfs: [],
    readOnly: false,
    network,
    entrypoint: '',
    init: false,
    ulimit: [],
    privileged: false,
    capAdd: [],
    capDrop: [],
    securityOpt: [],
    tty: false,
    interactive: false,
    rm: false,
    detach: false,
    label: [],
    device: [],
    deviceCgroupRule: [],
  };
}

/** Interrupt requests (Ctrl-C) reach the running step through this. */
export const interrupt = { requested: false, kill: undefined as (() => void) | undefined };

export async function runStep(ctx: Ctx, state: RunState, step: Extract<Step, { kind: 'run' }>, network: RunNetwork, out: (line: string) => void): Promise<RunOutcome> {
  // the container's env is the step's env alone (the plan merged the image's ENV in already)
  const image: Image = { record: state.record, manifest: state.manifest, config: { ...state.config, config: {} }, tags: [], chainIds: state.chainIds };
  const c: Container = await createContainer(ctx, '(build)', image, step.argv, runFlags(step, network));
  try {
    const tail: string[] = [];
    const keep = (line: string) => {
      tail.push(line);
      if (tail.length > 10) tail.shift();
      out(line);
    };
    const child = spawn(process.execPath, ['--', TSRUN_BIN, '--root', ctx.root, 'start', '-a', c.config.id], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Ctrl-C: the container's PID 1 may ignore SIGTERM (no handler), so remove it by force; its end
    // closes the output pipes and ends the attached start
    interrupt.kill = () => {
      const fresh = readContainer(ctx, c.config.id);
      if (fresh) void import('../../containers/rm.js').then(({ removeContainer }) => removeContainer(ctx, fresh, { force: true })).catch(() => {});
    };
    if (interrupt.requested) interrupt.kill();
    const lines = (stream: NodeJS.ReadableStream) => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          keep(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      return new Promise<void>((resolve) =>
        stream.on('end', () => {
          if (buf) keep(buf);
          resolve();
        }),
      );
    };
    const done = Promise.all([lines(child.stdout!), lines(child.stderr!)]);
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('close', (cd, sg) => resolve([cd, sg])));
    await done;
    interrupt.kill = undefined;
    const exitCode = code ?? 128;
    if (exitCode !== 0 || interrupt.requested) return { exitCode, tail, signal: signal ?? undefined };
    const fresh = readContainer(ctx, c.config.id) ?? c;
    const layer = makeCommitLayer(ctx, fresh, { squash: false });
    return { exitCode, tail, layer };
  } finally {
    interrupt.kill = undefined;
    const { removeContainer } = await import('../../containers/rm.js');
    const fresh = readContainer(ctx, c.config.id);
    if (fresh) await removeContainer(ctx, fresh, { force: true });
  }
}
