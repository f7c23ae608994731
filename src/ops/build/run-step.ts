/**
 * A RUN step: a container made from the current build state exactly as `tsrun run` makes
 * one (createContainer with run's flags and defaults: same confinement), started in this
 * process through the runtime's launcher with the step's own pipes as its stdout/stderr
 * (streamed with the step's prefix, the tail kept for the error) and /dev/null as stdin,
 * then its changes written by commit's layer writer straight from the upper dir. The
 * container is removed whatever happens; the caller adopts the layer.
 */
import fs from 'node:fs';
import net from 'node:net';
import type { Ctx } from '../../context.js';
import type { Image, ImageRecord } from '../../images/store.js';
import type { ImageConfig, Manifest } from '../../oci/types.js';
import { native } from '../../native.js';
import { createContainer } from '../../containers/create.js';
import { startContainer } from '../../containers/start.js';
import { readContainer, type Container } from '../../containers/record.js';
import type { RunFlags } from '../../containers/options.js';
import { PendingLaunch } from '../../runtime/launch.js';
import { specNamespaces } from '../../runtime/spec/build.js';
import { makeCommitLayer, upperDir, type LayerTemps } from '../commit-layer.js';
import { autoRemove, removeAfterExit } from '../run.js';
import type { Step } from './stage-plan.js';
import type { SharedNetwork } from '../../runtime/network/shared.js';

export interface RunState {
  record: ImageRecord;
  manifest: Manifest;
  config: ImageConfig;
  chainIds: string[];
  /** --timestamp: later file mtimes in the layer become this (Unix seconds). */
  clampMtime?: number;
}

export interface RunOutcome {
  exitCode: number;
  /** The last lines the command printed. */
  tail: string[];
  layer?: LayerTemps;
}

/** RUN's network: run's default bridge, none, or the host's. */
export type RunNetwork = 'bridge' | 'none' | 'host';

/** The build's one namespace on the default bridge that every `bridge` RUN joins (network/shared.ts). */
export type BuildNetwork = () => Promise<SharedNetwork>;

/** What RUN --mount adds to the container (run-mount-host.ts). */
export interface StepMounts {
  /** -v HOST:CTR[:ro] specs. */
  volume: string[];
  /** --tmpfs CTR[:opts] specs. */
  tmpfs: string[];
  /** Extra environment (secrets with env=): for this process only, never in a key or history. */
  env: string[];
  /** Paths (relative to /) that tsrun made only as mount points, seen in the upper dir: never committed. */
  stubs: (upper: string) => string[];
}

const NO_MOUNTS: StepMounts = { volume: [], tmpfs: [], env: [], stubs: () => [] };

function runFlags(step: Extract<Step, { kind: 'run' }>, network: RunNetwork, mounts: StepMounts): RunFlags {
  return {
    env: [...step.env, ...mounts.env],
    envFile: [],
    workdir: step.workdir,
    user: step.user,
    volume: mounts.volume,
    tmpfs: mounts.tmpfs,
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

/** Interrupt requests (Ctrl-C) reach every running step (parallel stages) through this. */
export const interrupt = { requested: false, kills: new Set<() => void>() };

/** A pipe whose write end goes to the launcher; the read end is read here, line by line. */
function linePipe(keep: (line: string) => void): { writeFd: number; done: Promise<void> } {
  const [r, w] = native().pipe();
  const sock = new net.Socket({ fd: r, readable: true, writable: false });
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      keep(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  const done = new Promise<void>((resolve) => {
    sock.on('close', () => {
      if (buf) keep(buf);
      resolve();
    });
    sock.on('error', () => {});
  });
  return { writeFd: w, done };
}

export async function runStep(
  ctx: Ctx,
  state: RunState,
  step: Extract<Step, { kind: 'run' }>,
  network: RunNetwork,
  out: (line: string) => void,
  mounts: StepMounts = NO_MOUNTS,
  buildNetwork?: BuildNetwork,
): Promise<RunOutcome> {
  // on the default network: the build's shared namespace (made by the first RUN that needs it)
  const shared = network === 'bridge' && buildNetwork ? await buildNetwork() : undefined;
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > 10) tail.shift();
    out(line);
  };
  // the launcher starts (and seals itself) while the container is created, as `run` does
  const stdout = linePipe(keep);
  const stderr = linePipe(keep);
  const devNull = fs.openSync('/dev/null', 'r');
  let launcher: PendingLaunch;
  try {
    launcher = new PendingLaunch(false, specNamespaces(network), [devNull, stdout.writeFd, stderr.writeFd], false);
  } finally {
    // the launcher has its copies: the pipes end when it and the container are gone
    fs.closeSync(devNull);
    fs.closeSync(stdout.writeFd);
    fs.closeSync(stderr.writeFd);
  }
  // the container's env is the step's env alone (the stage plan merged the image's ENV in already)
  const image: Image = { record: state.record, manifest: state.manifest, config: { ...state.config, config: {} }, tags: [], chainIds: state.chainIds };
  let c: Container;
  try {
    c = await createContainer(ctx, '(build)', image, step.argv, runFlags(step, network, mounts));
  } catch (err) {
    launcher.abort();
    throw err;
  }
  let cgroupDirs: string[] | undefined;
  try {
    const kill = () => {
      // PID 1 may ignore SIGTERM (no handler): remove by force; its end closes the pipes
      const fresh = readContainer(ctx, c.config.id);
      if (fresh) void import('../../containers/rm.js').then(({ removeContainer }) => removeContainer(ctx, fresh, { force: true })).catch(() => {});
    };
    if (shared) {
      // the container joins the namespace as it is: its own /etc/hosts names it at the namespace's address
      fs.writeFileSync(`${c.dir}/hosts`, shared.hosts(c.config.hostname));
      fs.writeFileSync(`${c.dir}/resolv.conf`, shared.resolvConf);
    }
    const started = await startContainer(ctx, c, { detach: false, launcher, netns: shared?.netns });
    cgroupDirs = started.cgroupDirs;
    interrupt.kills.add(kill);
    if (interrupt.requested) kill();
    let exitCode: number;
    try {
      exitCode = await started.launched.wait();
      await Promise.all([stdout.done, stderr.done]);
    } finally {
      interrupt.kills.delete(kill);
    }
    if (exitCode !== 0 || interrupt.requested) return { exitCode, tail };
    const fresh = readContainer(ctx, c.config.id) ?? c;
    // mount points tsrun made for RUN --mount are not the step's changes
    const host = { ...fresh.config.host, bindTargets: [...(fresh.config.host.bindTargets ?? []), ...mounts.stubs(upperDir(fresh))] };
    const layer = makeCommitLayer(ctx, { ...fresh, config: { ...fresh.config, host } }, { squash: false, clampMtime: state.clampMtime });
    return { exitCode, tail, layer };
  } finally {
    // either way, an interrupt's removal (kill above) may be at it already: both wait for it
    if (cgroupDirs) await removeAfterExit(ctx, c, cgroupDirs);
    else await autoRemove(ctx, c);
  }
}
