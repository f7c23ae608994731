/**
 * `tsrun build`: the front end's stage graph walked stage by stage (only the stages the
 * target needs, in order; parallel waves are not done yet), each stage's plan walked step
 * by step (build-step.ts: a step's cache key is its parent's key and its inputs; on a hit
 * its recorded layer is reused, on a miss it runs or writes its layer). Layers are adopted
 * into the stores as each step finishes (they are the cache); images are recorded only at
 * the end: the target as the one new image.
 * A failure leaves no container, mount or image, only the cache of steps that finished.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../../context.js';
import { hostPlatform, type ImageConfig, type Platform } from '../../oci/types.js';
import { parsePlatform } from '../../oci/platform.js';
import { MT } from '../../oci/mediatypes.js';
import { sha256 } from '../../oci/digest.js';
import type { ImageRecord } from '../../images/store.js';
import { normaliseTag } from '../../images/store.js';
import { resolveImageForRun } from '../run-image.js';
import { TsrunError, syscallError } from '../../util/errors.js';
import { analyzeDockerfile } from './frontend.js';
import { loadIgnoreRules } from './dockerignore.js';
import { planStage, type Step } from './stage-plan.js';
import { BuildCache, stepKey } from './build-cache.js';
import type { CopyRoot } from './copy-select.js';
import { finalImage, type OutputFormat } from './build-output.js';
import { interrupt, type BuildNetwork, type RunNetwork } from './run-step.js';
import type { SharedNetwork } from '../../runtime/network/shared.js';
import { atLine, atLineAsync } from './errors.js';
import { emptyDir, lowers, mountView, pushHistory, secs, stateOfImage, type State } from './build-state.js';
import { interrupted, runBuildStep, type StepEnv } from './build-step.js';
import { unusedBuildArgs } from './args.js';
import type { SshAgents } from './ssh-agents.js';

export interface BuildOptions {
  contextDir: string;
  /** -f as given (default CONTEXT/Dockerfile). */
  file?: string;
  /** -f names a file inside the context (a context tar from stdin), not one relative to the working directory. */
  fileInContext?: boolean;
  /** The Dockerfile's text when it came from stdin (`-f -`, or a plain Dockerfile as the context `-`). */
  dockerfileText?: string;
  /** --pull: ask the registry for every FROM and COPY --from image, even one in the store. */
  pull?: boolean;
  /** --timestamp / SOURCE_DATE_EPOCH (Unix seconds): every created time, and file mtimes clamped to it. */
  timestamp?: number;
  /** --format: the image's manifest and config media types. */
  format?: OutputFormat;
  buildArgs: Map<string, string>;
  target?: string;
  noCache: boolean;
  labels: Record<string, string>;
  tags: string[];
  network: 'default' | 'none' | 'host';
  /** Progress lines (stderr), or nothing with -q. */
  log: (line: string) => void;
  /** -q: the failing step's last output still goes here. */
  quiet: boolean;
  /** --secret values by id (RUN --mount=type=secret). */
  secrets?: ReadonlyMap<string, Buffer>;
  /** --ssh agents (RUN --mount=type=ssh); the caller closes them. */
  ssh?: SshAgents;
  /** --platform: the target platform (default the host's); another architecture's RUN steps run emulated. */
  platform?: Platform;
  /** false: the image's blobs are written but no image is recorded (multi-platform.ts records them together). */
  record?: boolean;
}

const SCRATCH_RECORD: ImageRecord = { id: 'sha256:' + '0'.repeat(64), manifest: 'sha256:' + '0'.repeat(64), mediaType: MT.OCI_MANIFEST, repoDigests: [], added: '' } as ImageRecord;

export async function buildImage(ctx: Ctx, o: BuildOptions): Promise<{ id: string; tags: string[]; record: ImageRecord }> {
  const tags = o.tags.map(normaliseTag);
  const contextDir = path.resolve(o.contextDir);
  if (!fs.statSync(contextDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new TsrunError('USAGE', `unable to prepare context: path ${JSON.stringify(o.contextDir)} not found`, { hint: 'give a directory as the build context' });
  }
  const fromStdin = o.dockerfileText !== undefined;
  const dfPath = o.file && !fromStdin && !o.fileInContext ? path.resolve(o.file) : path.join(contextDir, o.file ?? 'Dockerfile');
  let text: string;
  try {
    text = o.dockerfileText ?? fs.readFileSync(dfPath, 'utf8');
  } catch (err) {
    throw syscallError(`failed to read dockerfile ${o.file ?? 'Dockerfile'}`, err);
  }
  const shownFile = fromStdin && (o.file === undefined || o.file === '-') ? 'Dockerfile' : (o.file ?? 'Dockerfile');
  const pullPolicy = o.pull ? 'always' : 'missing';
  const ts = o.timestamp;
  const when = () => (ts === undefined ? new Date().toISOString() : new Date(ts * 1000).toISOString().replace('.000Z', 'Z'));
  const buildPlatform = hostPlatform();
  const platform = o.platform ?? buildPlatform;
  // the platform images are resolved for: only when asked (--platform), so a build without it takes
  // the store's image whatever its platform, as docker's classic builder does
  const wanted = o.platform;
  const fe = analyzeDockerfile(text, { file: shownFile, buildArgs: o.buildArgs, target: o.target, targetPlatform: platform, buildPlatform });
  for (const w of fe.warnings) o.log(`[Warning] ${w}`);
  const ignore = loadIgnoreRules(contextDir, o.file && !fromStdin && !o.fileInContext ? dfPath : undefined);
  const contextRoot: CopyRoot = { dir: contextDir, context: true, ignore: ignore.matcher };
  const cache = new BuildCache(ctx);
  const network: RunNetwork = o.network === 'default' ? 'bridge' : o.network; // default: run's default bridge network

  let vertex = 0;
  const states = new Map<number, State>();
  const declared = new Set<string>();
  let final: { state: State; author?: string; config: ImageConfig['config'] } | undefined;

  /** A `--from=`/`from=` value: an earlier stage's state, or undefined for an image. */
  const stageState = (ref: string): State | undefined => {
    const si = /^\d+$/.test(ref) ? Number(ref) : fe.parsed.stages.findIndex((st) => st.name === ref.toLowerCase());
    return states.get(si);
  };
  const stageKeyOf = (ref: string) => stageState(ref)?.key ?? `image:${ref}`;
  const imageState = async (ref: string): Promise<State> => stateOfImage(await resolveImageForRun(ctx, ref, pullPolicy, o.log, wanted));
  /** RUN --mount from=: the stage's or image's filesystem, mounted for the step (unmounted by its cleanups). */
  const mountRootOf = async (ref: string, cleanups: (() => void)[]): Promise<string> => {
    const st = stageState(ref) ?? (await imageState(ref));
    const dirs = await lowers(ctx, st);
    // overlay needs two lower dirs: a one-layer image is its layer's directory (mounted read-only or under an overlay by the caller)
    return dirs.length > 1 ? mountView(ctx, dirs, cleanups, false) : (dirs[0] ?? emptyDir(ctx, cleanups));
  };

  // every RUN on the default network joins one namespace, set up once (network/shared.ts) on first use
  // and torn down when the build ends, however it ends
  let sharedNet: Promise<SharedNetwork> | undefined;
  const buildNetwork: BuildNetwork = () => (sharedNet ??= import('../../runtime/network/shared.js').then((m) => m.openSharedNetwork(ctx)));
  const env: StepEnv = { ctx, o, cache, contextDir, contextRoot, ts, network, buildNetwork, stageState, stageKeyOf, mountRootOf, imageState };

  const onSignal = () => {
    interrupt.requested = true;
    for (const k of interrupt.kills) k();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    /** One stage, step by step; the stages of a wave run at once (they need only earlier waves). */
    const buildStage = async (idx: number): Promise<void> => {
      const node = fe.graph.nodes[idx]!;
      const label = node.stage.name ?? `stage-${idx}`;
      const from = node.stage.from;
      const steps = (p: { steps: Step[] }) => p.steps.filter((s) => s.kind !== 'config');
      let state: State;
      const t0 = Date.now();
      const fromVertex = ++vertex;
      if ('stage' in node.base) {
        const prev = states.get(node.base.stage)!;
        state = { ...prev, config: structuredClone(prev.config) };
      } else if ('image' in node.base) {
        const ref = node.base.image;
        // FROM --platform=… (often $BUILDPLATFORM) picks the stage's image; else the build's --platform
        const stagePlatform = node.platform ? atLine(from.file, from.line, () => parsePlatform(node.platform!)) : wanted;
        const img = await atLineAsync(from.file, from.line, () => resolveImageForRun(ctx, ref, pullPolicy, o.log, stagePlatform));
        state = { ...stateOfImage(img), config: structuredClone(img.config) };
      } else {
        state = { config: { architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}), rootfs: { type: 'layers', diff_ids: [] }, history: [], config: {} }, layers: [], chainIds: [], key: 'scratch', record: SCRATCH_RECORD };
      }
      // with --timestamp, layers are clamped: not interchangeable with those of a build without it
      if (ts !== undefined && !('stage' in node.base)) state.key = stepKey(state.key, { timestamp: ts });
      const plan = planStage(node.stage, { globalArgs: fe.globalArgs, base: state.config.config ?? {}, escapeToken: fe.parsed.escapeToken, buildArgs: o.buildArgs, target: platform, build: buildPlatform });
      for (const a of plan.declaredArgs) declared.add(a);
      const total = steps(plan).length + 1;
      const fromText = 'image' in node.base ? node.base.image : 'stage' in node.base ? (fe.graph.nodes[node.base.stage]!.stage.name ?? String(node.base.stage)) : 'scratch';
      o.log(`#${fromVertex} [${label} 1/${total}] FROM ${fromText}`);
      o.log(`#${fromVertex} DONE ${secs(Date.now() - t0)}`);
      let n = 1;
      for (const step of plan.steps) {
        if (interrupt.requested) throw interrupted();
        const created = when();
        if (step.kind === 'config') {
          state.key = stepKey(state.key, { createdBy: step.createdBy });
          pushHistory(state, { created, created_by: step.createdBy, empty_layer: true });
          continue;
        }
        n++;
        await runBuildStep(env, state, step, { v: ++vertex, label, n, total, created });
      }
      state.config = { ...state.config, config: plan.config };
      states.set(idx, state);
      if (idx === fe.graph.target) final = { state, author: plan.author, config: plan.config };
    };
    for (const wave of fe.graph.waves) {
      // the first failure stops the wave's other stages (their RUN containers are removed) and is
      // the one reported; every stage has ended before it is, so nothing runs on behind the error
      let firstError: { e: unknown } | undefined;
      await Promise.allSettled(
        wave.map((idx) =>
          buildStage(idx).catch((e: unknown) => {
            if (firstError) return;
            firstError = { e };
            interrupt.requested = true;
            for (const k of interrupt.kills) k();
          }),
        ),
      );
      if (firstError) throw firstError.e;
    }
    cache.flushSums();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // every RUN container has gone by now (a wave ends only when all its stages have)
    if (sharedNet) await sharedNet.then((n) => n.close(), () => {});
  }
  const unused = unusedBuildArgs(o.buildArgs, declared);
  if (unused.length) o.log(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed`);

  const v = ++vertex;
  o.log(`#${v} exporting to image`);
  const rec = await finalImage(ctx, { state: final!.state, author: final!.author, config: final!.config, labels: o.labels, tags, format: o.format ?? 'oci', created: when(), record: o.record });
  o.log(`#${v} writing image ${rec.id} done`);
  for (const t of tags) o.log(`#${v} naming to ${t} done`);
  return { id: rec.id, tags, record: rec };
}
