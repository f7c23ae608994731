/**
 * Stages and the graph between them. A Dockerfile is global ARGs, then stages, each opened by
 * `FROM base [AS name]`. A stage depends on another when its base is an earlier stage's name,
 * when `COPY --from=` names a stage (by name or index) and when `RUN --mount=from=` does;
 * anything else there is an image. `--target` keeps only the stages the target needs, and
 * `buildOrder` groups them in waves: every stage of a wave only needs stages of earlier
 * waves, so a wave's stages can be built in parallel. Pure.
 */
import type { Dockerfile } from './ast.js';
import { dockerfileError } from './errors.js';
import { parseInstruction } from './instructions.js';
import type { Instruction, Of } from './instruction-types.js';
import { ShellLex } from './shell-lex.js';
import { lookup } from './args.js';
import { parseRunMount } from './run-mount.js';
import { atLine } from './errors.js';

export interface Stage {
  index: number;
  /** Lower-cased `AS` name, if any. */
  name?: string;
  from: Of<'FROM'>;
  /** Instructions after FROM, in order (ONBUILD included, as the trigger record). */
  instructions: Instruction[];
}

export interface ParsedStages {
  file: string;
  escapeToken: string;
  /** ARGs before the first FROM. */
  metaArgs: Of<'ARG'>[];
  stages: Stage[];
}

/** Typed instructions grouped into global ARGs and stages. */
export function splitStages(df: Dockerfile): ParsedStages {
  const metaArgs: Of<'ARG'>[] = [];
  const stages: Stage[] = [];
  for (const node of df.instructions) {
    const instr = parseInstruction(node, df.file);
    if (instr.kind === 'FROM') {
      stages.push({ index: stages.length, name: instr.stageName, from: instr, instructions: [] });
    } else if (!stages.length) {
      if (instr.kind !== 'ARG') {
        throw dockerfileError(df.file, instr.line, `no build stage in current context: ${instr.kind} before the first FROM`, 'only ARG may come before the first FROM');
      }
      metaArgs.push(instr);
    } else stages[stages.length - 1]!.instructions.push(instr);
  }
  if (!stages.length) throw dockerfileError(df.file, df.instructions[0]?.startLine ?? 0, 'no FROM instruction', 'a Dockerfile starts its first stage with FROM');
  return { file: df.file, escapeToken: df.escapeToken, metaArgs, stages };
}

/** What a FROM, `--from=` or `from=` refers to. */
export type Source = { stage: number } | { image: string } | { scratch: true };

export interface StageNode {
  stage: Stage;
  /** The FROM image after expanding global ARGs. */
  base: Source;
  /** Expanded FROM --platform, if given. */
  platform?: string;
  /** Stages this one needs (base stage, COPY --from, RUN --mount from=), sorted. */
  deps: number[];
  /** Images named by COPY --from / RUN --mount from= (besides the base). */
  images: string[];
}

export interface StageGraph {
  nodes: StageNode[];
  /** Index of the stage the build produces. */
  target: number;
  /** Stages the target needs (itself included), in waves: all of a wave's deps are in earlier waves. */
  waves: number[][];
}

function findStage(stages: readonly Stage[], ref: string, before: number): number | undefined {
  const lower = ref.toLowerCase();
  for (let i = 0; i < before; i++) if (stages[i]!.name === lower) return i;
  return undefined;
}

/** `--from=` value: a stage index, a stage name (anywhere in the file), or an image. */
function resolveFrom(ps: ParsedStages, ref: string, instr: Instruction): Source {
  if (/^\d+$/.test(ref)) {
    const i = Number(ref);
    if (i >= ps.stages.length) {
      throw dockerfileError(instr.file, instr.line, `invalid stage index ${ref}: the Dockerfile has ${ps.stages.length} stage(s)`, 'stage indexes count FROM lines from 0');
    }
    return { stage: i };
  }
  const named = findStage(ps.stages, ref, ps.stages.length);
  if (named !== undefined) return { stage: named };
  return ref === 'scratch' ? { scratch: true } : { image: ref };
}

/** Resolve FROM lines and cross-stage references with the global ARGs, pick the target, order the work. */
export function stageGraph(ps: ParsedStages, globalArgs: ReadonlyMap<string, string>, target?: string): StageGraph {
  const lex = new ShellLex({ escapeToken: ps.escapeToken });
  const env = lookup(globalArgs);
  const expand = (instr: Instruction, word: string) => atLine(instr.file, instr.line, () => lex.processWord(word, env));

  const nodes: StageNode[] = ps.stages.map((stage) => {
    const image = expand(stage.from, stage.from.image);
    if (!image) throw dockerfileError(stage.from.file, stage.from.line, `base name (${stage.from.image}) should not be blank`, 'give the FROM image a value (check the ARG it uses)');
    const baseStage = findStage(ps.stages, image, stage.index);
    const base: Source = baseStage !== undefined ? { stage: baseStage } : image.toLowerCase() === 'scratch' ? { scratch: true } : { image };
    const deps = new Set<number>();
    const images = new Set<string>();
    if ('stage' in base) deps.add(base.stage);
    const refer = (src: Source) => {
      if ('stage' in src) deps.add(src.stage);
      else if ('image' in src) images.add(src.image);
    };
    const visit = (instr: Instruction) => {
      // (ADD has no --from: the flag check in instructions.ts refused it already)
      if (instr.kind === 'COPY' && instr.from !== undefined) refer(resolveFrom(ps, expand(instr, instr.from), instr));
      if (instr.kind === 'RUN') {
        for (const raw of instr.mounts) {
          const m = atLine(instr.file, instr.line, () => parseRunMount(raw));
          if (m.from !== undefined) {
            if (/\$./.test(m.from)) throw dockerfileError(instr.file, instr.line, "'from' doesn't support variable expansion, define alias stage instead");
            refer(resolveFrom(ps, m.from, instr));
          }
        }
      }
    };
    for (const instr of stage.instructions) visit(instr);
    const platform = stage.from.platform === undefined ? undefined : expand(stage.from, stage.from.platform);
    return { stage, base, platform, deps: [...deps].sort((a, b) => a - b), images: [...images] };
  });

  let targetIndex = ps.stages.length - 1;
  if (target !== undefined) {
    const t = findStage(ps.stages, target, ps.stages.length);
    if (t === undefined) {
      const names = ps.stages.map((s) => s.name).filter(Boolean);
      throw dockerfileError(ps.file, 0, `target stage "${target}" could not be found`, names.length ? `stages are: ${names.join(', ')}` : 'name a stage with FROM ... AS NAME');
    }
    targetIndex = t;
  }

  // the stages the target needs, and a cycle check on the way (COPY --from may point forward)
  const needed = new Set<number>();
  const onPath = new Set<number>();
  const walk = (i: number) => {
    if (onPath.has(i)) {
      const s = ps.stages[i]!;
      throw dockerfileError(ps.file, s.from.line, `circular dependency detected on stage: ${s.name ?? i}`, 'a stage cannot (indirectly) copy from itself');
    }
    if (needed.has(i)) return;
    onPath.add(i);
    for (const d of nodes[i]!.deps) walk(d);
    onPath.delete(i);
    needed.add(i);
  };
  walk(targetIndex);

  const waves: number[][] = [];
  const done = new Set<number>();
  while (done.size < needed.size) {
    const wave = [...needed].filter((i) => !done.has(i) && nodes[i]!.deps.every((d) => done.has(d))).sort((a, b) => a - b);
    for (const i of wave) done.add(i);
    waves.push(wave);
  }
  return { nodes, target: targetIndex, waves };
}
