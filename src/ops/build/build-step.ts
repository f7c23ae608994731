/**
 * One step of a build stage (RUN, COPY/ADD or WORKDIR): its cache key from the parent's key and its
 * inputs; on a hit its recorded layer is reused (a `COPY --link` also by its parent-free key), on a
 * miss it runs (run-step.ts) or writes its layer (build-layers.ts), and the layer is adopted into
 * the stores at once (it is the cache). The stage's state moves on by the step.
 */
import type { Ctx } from '../../context.js';
import { withContentLock } from '../../context.js';
import { chainIdOf } from '../../images/unpack.js';
import { removeTemps, type LayerTemps } from '../commit-layer.js';
import { TsrunError } from '../../util/errors.js';
import type { Step } from './stage-plan.js';
import { stepKey, type BuildCache } from './build-cache.js';
import type { CopyRoot } from './copy-select.js';
import { prepareCopy } from './copy-step.js';
import { resolveOwner, writeCopyLayer, writeWorkdirLayer } from './build-layers.js';
import { scriptsVolume } from './run-scripts.js';
import { interrupt, runStep, type BuildNetwork, type RunNetwork } from './run-step.js';
import { atLine, atLineAsync } from './errors.js';
import { mountsKey, prepareRunMounts, type MountSources, type PreparedMounts } from './run-mount-host.js';
import type { EntryStat } from './walk-stat.js';
import type { BuildOptions } from './executor.js';
import { addLayer, emptyDir, lowers, manifestOf, mountView, pushHistory, secs, usable, type State } from './build-state.js';

/** What a step needs of its build: the options, the cache, the context and the other stages. */
export interface StepEnv {
  ctx: Ctx;
  o: BuildOptions;
  cache: BuildCache;
  contextDir: string;
  contextRoot: CopyRoot;
  /** --timestamp (Unix seconds) */
  ts: number | undefined;
  /** RUN's network when the step asks for the default */
  network: RunNetwork;
  buildNetwork: BuildNetwork;
  /** A `--from=`/`from=` value: an earlier stage's state, or undefined for an image. */
  stageState(ref: string): State | undefined;
  stageKeyOf(ref: string): string;
  /** RUN --mount from=: the stage's or image's filesystem, mounted for the step (unmounted by its cleanups). */
  mountRootOf(ref: string, cleanups: (() => void)[]): Promise<string>;
  /** An image (COPY --from=IMAGE) as a state: from the store, pulled as FROM's are. */
  imageState(ref: string): Promise<State>;
}

/** Where the step is in the progress: its vertex, the stage's label, its place among the stage's steps. */
export interface StepPlace {
  v: number;
  label: string;
  n: number;
  total: number;
  /** the history entry's time */
  created: string;
}

export async function runBuildStep(b: StepEnv, state: State, step: Exclude<Step, { kind: 'config' }>, at: StepPlace): Promise<void> {
  const { ctx, o, cache, contextDir, contextRoot, ts, network, buildNetwork } = b;
  const { v, label, n, total, created } = at;
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
      const mounts = step.mounts.length ? atLine(file, line, () => mountsKey(step.mounts, contextRoot, cache, (f) => b.stageKeyOf(f), { file, line })) : undefined;
      keyInput = { run: step.argv, env: step.env, user: step.user, workdir: step.workdir, network: step.network === 'default' ? o.network : step.network, ...(mounts ? { mounts } : {}) };
    } else if (step.kind === 'copy') {
      const fromRoot = async (ref: string) => {
        // not a stage: an image, from the store (pulled when missing, or always with --pull)
        const src = b.stageState(ref) ?? (await atLineAsync(file, line, () => b.imageState(ref)));
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
      return;
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
      return;
    }
    let temps: LayerTemps | undefined;
    if (step.kind === 'run') {
      let prepared: PreparedMounts | undefined;
      if (step.mounts.length) {
        const sources: MountSources = { ctx, contextDir, secrets: o.secrets ?? new Map(), ssh: o.ssh, env: step.env, keyOf: b.stageKeyOf, lowers: await lowers(ctx, state), rootOf: (f) => b.mountRootOf(f, cleanups) };
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

/** The error of a build stopped by SIGINT/SIGTERM. */
export function interrupted(): TsrunError {
  return new TsrunError('BUILD', 'build interrupted: nothing was built', { hint: 'run the build again; finished steps are cached', exitCode: 130 });
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
