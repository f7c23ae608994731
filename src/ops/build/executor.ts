/**
 * `tsrun build`: the front end's stage graph walked stage by stage (only the stages the
 * target needs, in order; parallel waves are not done yet), each stage's plan walked step
 * by step. A step's cache key is its parent's key and its inputs (executor keys below);
 * on a hit its recorded layer is reused, on a miss it runs (run-step.ts) or writes its
 * layer (build-layers.ts). Layers are adopted into the stores as each step finishes (they
 * are the cache); images are recorded only at the end: the target as the one new image.
 * A failure leaves no container, mount or image, only the cache of steps that finished.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { native, MNT_DETACH } from '../../native.js';
import type { Ctx } from '../../context.js';
import { withContentLock } from '../../context.js';
import { hostPlatform, type Descriptor, type HistoryEntry, type ImageConfig, type Manifest, type Platform } from '../../oci/types.js';
import { parsePlatform } from '../../oci/platform.js';
import { MT, layerMediaType } from '../../oci/mediatypes.js';
import { sha256 } from '../../oci/digest.js';
import { chainIdOf } from '../../images/unpack.js';
import type { ImageRecord } from '../../images/store.js';
import { normaliseTag } from '../../images/store.js';
import { storeImage } from '../layers.js';
import { resolveImageForRun } from '../run-image.js';
import { removeTemps, type LayerTemps } from '../commit-layer.js';
import { TsrunError, syscallError } from '../../util/errors.js';
import { analyzeDockerfile } from './frontend.js';
import { loadIgnoreRules } from './dockerignore.js';
import { planStage, type Step } from './stage-plan.js';
import { BuildCache, stepKey } from './build-cache.js';
import type { CopyRoot } from './copy-select.js';
import { prepareCopy } from './copy-step.js';
import { resolveOwner, writeCopyLayer, writeWorkdirLayer } from './build-layers.js';
import { finalImage, type OutputFormat } from './build-output.js';
import { scriptsVolume } from './run-scripts.js';
import { interrupt, runStep, type BuildNetwork, type RunNetwork } from './run-step.js';
import type { SharedNetwork } from '../../runtime/network/shared.js';
import { atLine, dockerfileError, LineError } from './errors.js';
import { mountsKey, prepareRunMounts, type MountSources, type PreparedMounts } from './run-mount-host.js';
import { unusedBuildArgs } from './args.js';
import type { SshAgents } from './ssh-agents.js';
import type { EntryStat } from './walk-stat.js';

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

/** A stage's filesystem and config as the steps so far left it. */
export interface State {
  config: ImageConfig;
  layers: Descriptor[];
  chainIds: string[];
  key: string;
  /** The stage's base image record (the RUN containers name it as their image). */
  record: ImageRecord;
}

const SCRATCH_RECORD: ImageRecord = { id: 'sha256:' + '0'.repeat(64), manifest: 'sha256:' + '0'.repeat(64), mediaType: MT.OCI_MANIFEST, repoDigests: [], added: '' } as ImageRecord;

function manifestOf(s: State): Manifest {
  return { schemaVersion: 2, mediaType: MT.OCI_MANIFEST, config: { mediaType: MT.OCI_CONFIG, digest: '', size: 0 }, layers: s.layers };
}

/** Unpack the state's layers (a committed one is only registered) and return their dirs, topmost first. */
async function lowers(ctx: Ctx, s: State): Promise<string[]> {
  if (!s.chainIds.every((id) => ctx.layers.has(id))) {
    const { ensureImageLayers } = await import('../../images/unpack.js');
    await withContentLock(ctx, () => ensureImageLayers(ctx, manifestOf(s), s.config));
  }
  return [...s.chainIds].reverse().map((id) => ctx.layers.diffDir(id));
}

function addLayer(ctx: Ctx, s: State, diffId: string, size: number, contentBytes: number, temps?: LayerTemps): void {
  const parent = s.chainIds[s.chainIds.length - 1] ?? null;
  const chainId = chainIdOf(parent, diffId);
  if (temps) {
    if (ctx.content.has(diffId)) {
      // a layer the store holds already (the same COPY again): its temp is removed on the thread pool
      // while the build goes on (unlinking 100 MB costs ext4 ~50 ms), and no longer the step's cleanup's
      // to remove; one a kill leaves is swept later (its name starts with our PID)
      fs.rm(temps.blobTmp, { force: true }, () => {});
      temps.blobTmp = '';
    } else ctx.content.adopt(temps.blobTmp, diffId);
    if (!ctx.layers.known(chainId)) ctx.layers.register({ chainId, diffId, parent, size: contentBytes });
  }
  s.layers = [...s.layers, { mediaType: layerMediaType('oci', 'none'), digest: diffId, size }];
  s.chainIds = [...s.chainIds, chainId];
  s.config = { ...s.config, rootfs: { type: 'layers', diff_ids: [...(s.config.rootfs?.diff_ids ?? []), diffId] } };
}

function pushHistory(s: State, h: HistoryEntry): void {
  s.config = { ...s.config, history: [...(s.config.history ?? []), h] };
}

/** A cached step is usable only while its layer is still in the stores. */
function usable(ctx: Ctx, s: State, diffId: string | undefined): boolean {
  if (!diffId) return true;
  const chainId = chainIdOf(s.chainIds[s.chainIds.length - 1] ?? null, diffId);
  return ctx.content.has(diffId) && ctx.layers.known(chainId);
}

const secs = (ms: number) => (ms / 1000).toFixed(1) + 's';

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
  /** RUN --mount from=: the stage's or image's filesystem, mounted for the step (unmounted by its cleanups). */
  const mountRootOf = async (ref: string, cleanups: (() => void)[]): Promise<string> => {
    let st = stageState(ref);
    if (!st) {
      const img = await resolveImageForRun(ctx, ref, pullPolicy, o.log, wanted);
      st = { config: img.config, layers: img.manifest.layers, chainIds: img.chainIds, key: img.record.id, record: img.record };
    }
    const dirs = await lowers(ctx, st);
    // overlay needs two lower dirs: a one-layer image is its layer's directory (mounted read-only or under an overlay by the caller)
    return dirs.length > 1 ? mountView(ctx, dirs, cleanups, false) : (dirs[0] ?? emptyDir(ctx, cleanups));
  };

  // every RUN on the default network joins one namespace, set up once (network/shared.ts) on first use
  // and torn down when the build ends, however it ends
  let sharedNet: Promise<SharedNetwork> | undefined;
  const buildNetwork: BuildNetwork = () => (sharedNet ??= import('../../runtime/network/shared.js').then((m) => m.openSharedNetwork(ctx)));

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
        const cfg = structuredClone(img.config);
        state = { config: cfg, layers: img.manifest.layers, chainIds: img.chainIds, key: img.record.id, record: img.record };
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
        const v = ++vertex;
        const started = Date.now();
        const instrText = stepTitle(step);
        o.log(`#${v} [${label} ${n}/${total}] ${instrText}`);
        const { file, line } = step.instr;
        const cleanups: (() => void)[] = [];
        try {
          let keyInput: unknown;
          let copy: Awaited<ReturnType<typeof prepareCopy>> | undefined;
          let written: LayerTemps | undefined;
          const writeCopy = async (c: NonNullable<typeof copy>): Promise<LayerTemps> => {
            const dirs = await lowers(ctx, state);
            const owner = step.kind !== 'copy' || step.chown === undefined ? undefined : atLine(file, line, () => resolveOwner(step.chown!, dirs));
            await c.complete();
            const sums = { need: (a: string, st: EntryStat) => !cache.hasSum(a, st), put: (a: string, st: EntryStat, sum: string) => cache.recordSum(a, st, sum) };
            return writeCopyLayer(ctx, c.selected, dirs, { owner, chmod: step.kind === 'copy' ? step.chmod : undefined, link: step.kind === 'copy' && step.link, clampMtime: ts, sums });
          };
          if (step.kind === 'run') {
            const mounts = step.mounts.length ? atLine(file, line, () => mountsKey(step.mounts, contextRoot, cache, (f) => stageKeyOf(f), { file, line })) : undefined;
            keyInput = { run: step.argv, env: step.env, user: step.user, workdir: step.workdir, network: step.network === 'default' ? o.network : step.network, ...(mounts ? { mounts } : {}) };
          } else if (step.kind === 'copy') {
            const fromRoot = async (ref: string) => {
              let src = stageState(ref);
              if (!src) {
                // not a stage: an image, from the store (pulled when missing, or always with --pull)
                const img = await atLineAsync(file, line, () => resolveImageForRun(ctx, ref, pullPolicy, o.log, wanted));
                src = { config: img.config, layers: img.manifest.layers, chainIds: img.chainIds, key: img.record.id, record: img.record };
              }
              const dirs = await lowers(ctx, src);
              return { dir: dirs.length > 1 ? mountView(ctx, dirs, cleanups) : (dirs[0] ?? emptyDir(ctx, cleanups)), key: src.key };
            };
            copy = await prepareCopy(step, { ctx, contextRoot, cache, fromRoot, cleanups, ssh: o.ssh });
            if (copy.writeFirst(o.noCache)) {
              // the layer first: its writer records the files' checksums the key needs (copy-step.ts)
              const early = await writeCopy(copy);
              written = early;
              cleanups.push(() => removeTemps(early)); // a no-op once the store adopted it
            }
            keyInput = copy.keyInput();
          } else {
            keyInput = { workdir: step.path, user: step.user };
          }
          const key = stepKey(state.key, keyInput);
          const hit = o.noCache ? undefined : cache.get(key);
          if (hit && usable(ctx, state, hit.diffId)) {
            if (hit.diffId) addLayer(ctx, state, hit.diffId, hit.size ?? 0, hit.contentBytes ?? 0);
            pushHistory(state, { created: ts === undefined ? hit.created : created, created_by: step.createdBy, ...(hit.diffId ? {} : { empty_layer: true }) });
            state.key = key;
            o.log(`#${v} CACHED`);
            continue;
          }
          // COPY --link: its layer does not depend on the layers below (BuildKit merges it onto them), so it
          // is also keyed without the parent: after a base change the same layer (same diff_id) is reused.
          // A --chown that names a user or group (or a uid alone, whose group passwd gives) is resolved
          // against the stage's rootfs now and keyed by the ids it gave: a new base that maps the name to
          // the same ids reuses the layer, one that maps it elsewhere writes a new one (never a stale owner)
          let linkOwner: { uid: number; gid: number } | undefined;
          if (step.kind === 'copy' && step.link && step.chown !== undefined && !/^\d+:\d+$/.test(step.chown)) {
            const dirs = await lowers(ctx, state);
            linkOwner = atLine(file, line, () => resolveOwner(step.chown!, dirs));
          }
          const lkey = step.kind === 'copy' ? linkKey(step, keyInput, ts, linkOwner) : undefined;
          const linkHit = lkey && !o.noCache ? cache.get(lkey) : undefined;
          if (linkHit?.diffId && ctx.content.has(linkHit.diffId)) {
            addLayer(ctx, state, linkHit.diffId, linkHit.size ?? 0, linkHit.contentBytes ?? 0); // unpacked on its new parent when a step needs it
            pushHistory(state, { created: ts === undefined ? linkHit.created : created, created_by: step.createdBy });
            state.key = key;
            o.log(`#${v} CACHED`);
            continue;
          }
          let temps: LayerTemps | undefined;
          if (step.kind === 'run') {
            let prepared: PreparedMounts | undefined;
            if (step.mounts.length) {
              const sources: MountSources = { ctx, contextDir, secrets: o.secrets ?? new Map(), ssh: o.ssh, env: step.env, keyOf: stageKeyOf, lowers: await lowers(ctx, state), rootOf: (f) => mountRootOf(f, cleanups) };
              prepared = await atLineAsync(file, line, () => prepareRunMounts(step.mounts, sources));
              cleanups.push(() => prepared!.release());
            }
            // a heredoc script with a shebang: its file mounted at /dev/pipes/ for this step
            const scripts = scriptsVolume(ctx, step.scripts, cleanups);
            const mounts = scripts ? { volume: [scripts], tmpfs: [], env: [], stubs: () => [] as string[], ...prepared, ...(prepared ? { volume: [...prepared.volume, scripts] } : {}) } : prepared;
            const runState = { record: state.record, manifest: manifestOf(state), config: state.config, chainIds: state.chainIds, clampMtime: ts };
            const stepOut = (l: string) => o.log(`#${v} ${secs(Date.now() - started).replace('s', '')} ${l}`);
            const r = await atLineAsync(file, line, () => runStep(ctx, runState, step, step.network === 'default' ? network : step.network, stepOut, mounts, buildNetwork));
            if (interrupt.requested) throw interrupted();
            if (r.exitCode !== 0) {
              const cmd = step.argv.join(' ');
              throw new TsrunError('BUILD', `${file}:${line}: RUN ${instrText.slice(4)}: process "${cmd}" did not complete successfully: exit code: ${r.exitCode}`, {
                hint: r.tail.length ? `its last output: ${r.tail[r.tail.length - 1]}` : 'the command printed nothing',
                exitCode: r.exitCode,
              });
            }
            temps = r.layer!.result.entries ? r.layer : (removeTemps(r.layer!), undefined);
          } else {
            if (step.kind === 'copy') {
              temps = written ?? (await writeCopy(copy!));
            } else {
              const dirs = await lowers(ctx, state);
              const owner = step.user ? atLine(file, line, () => resolveOwner(step.user!, dirs)) : { uid: 0, gid: 0 };
              temps = await writeWorkdirLayer(ctx, step.path, dirs, owner, ts);
            }
          }
          const entry = {
            created,
            ...(temps ? { diffId: temps.result.diffId, chainId: chainIdOf(state.chainIds[state.chainIds.length - 1] ?? null, temps.result.diffId), size: temps.result.size, contentBytes: temps.result.contentBytes } : {}),
          };
          await withContentLock(ctx, async () => {
            if (temps) addLayer(ctx, state, temps.result.diffId, temps.result.size, temps.result.contentBytes, temps);
            cache.put(key, entry);
            if (lkey && temps) cache.put(lkey, { created, diffId: temps.result.diffId, size: temps.result.size, contentBytes: temps.result.contentBytes });
          });
          pushHistory(state, { created, created_by: step.createdBy, ...(temps ? {} : { empty_layer: true }) });
          state.key = key;
          o.log(`#${v} DONE ${secs(Date.now() - started)}`);
        } finally {
          for (const c of cleanups.reverse()) c();
        }
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

/**
 * A `COPY --link` step's parent-free key: its inputs alone (and --timestamp, which clamps the
 * layer's mtimes); a --chown that is not `UID:GID` also by the ids the stage's rootfs gave it.
 */
function linkKey(step: Extract<Step, { kind: 'copy' }>, keyInput: unknown, ts: number | undefined, owner: { uid: number; gid: number } | undefined): string | undefined {
  if (!step.link) return undefined;
  if (step.chown !== undefined && !/^\d+:\d+$/.test(step.chown) && !owner) return undefined;
  return stepKey('copy --link', { keyInput, timestamp: ts, ...(owner ? { owner } : {}) });
}

/**
 * The step's name in the progress: its history text; a RUN with heredocs shows its first
 * line, with BuildKit's summary of a lone heredoc: `RUN <<EOF (echo a...)`.
 */
function stepTitle(step: Step): string {
  const text = step.createdBy.replace(/ # buildkit$/, '');
  const instr = step.instr;
  if (step.kind !== 'run' || instr.kind !== 'RUN' || !instr.files.length) return text;
  const f = instr.files[0]!;
  const first = instr.cmd[0]!.split('\n')[0]!;
  if (instr.files.length === 1 && /^\d*<<-?\S+$/.test(first.trim())) {
    const lines = f.data.trim().split('\n');
    return `RUN ${first.trim()} (${lines[0]}${lines.length > 1 ? '...' : ''})`;
  }
  return `RUN ${first}`;
}

/**
 * Another stage's filesystem, read-only: its layers as one overlay (unmounted by the step's
 * cleanups). `sealed` adds nodev/nosuid/noexec (COPY only reads it; a RUN mount runs it).
 */
function mountView(ctx: Ctx, dirs: string[], cleanups: (() => void)[], sealed = true): string {
  const mnt = path.join(ctx.tmpDir, `${process.pid}-from-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(mnt, { mode: 0o700 });
  cleanups.push(() => fs.rmdirSync(mnt));
  try {
    native().mountOverlay(mnt, { lowerdirs: dirs, readonly: sealed, options: { index: 'off' } });
  } catch (err) {
    throw syscallError(`cannot mount a stage's filesystem for COPY --from`, err);
  }
  cleanups.push(() => native().umount2(mnt, MNT_DETACH));
  return mnt;
}

function emptyDir(ctx: Ctx, cleanups: (() => void)[]): string {
  const d = path.join(ctx.tmpDir, `${process.pid}-from-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(d, { mode: 0o700 });
  cleanups.push(() => fs.rmdirSync(d));
  return d;
}

function interrupted(): TsrunError {
  return new TsrunError('BUILD', 'build interrupted: nothing was built', { hint: 'run the build again; finished steps are cached', exitCode: 130 });
}

async function atLineAsync<T>(file: string, line: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof LineError) throw dockerfileError(file, line, e.message, e.hint);
    if (e instanceof TsrunError) throw new TsrunError(e.code, `${file}:${line}: ${e.message}`, { hint: e.hint, exitCode: e.explicitExitCode });
    throw e;
  }
}
