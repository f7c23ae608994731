/**
 * The Dockerfile front end in one call: text → stages → global ARGs → the stage graph for
 * the target. What `tsrun build` runs before touching anything; every error is a one-line
 * DOCKERFILE error with file:line. Pure (the caller reads the Dockerfile).
 */
import type { Platform } from '../../oci/types.js';
import { resolveGlobalArgs } from './args.js';
import { parseDockerfile } from './parser.js';
import { splitStages, stageGraph, type ParsedStages, type StageGraph } from './stages.js';

export interface FrontendOptions {
  /** Name for messages: the -f path as the user gave it. */
  file?: string;
  buildArgs?: ReadonlyMap<string, string>;
  target?: string;
  /** --platform (default: the host's). */
  targetPlatform: Platform;
  buildPlatform: Platform;
}

export interface Frontend {
  parsed: ParsedStages;
  globalArgs: Map<string, string>;
  graph: StageGraph;
  /** Parser warnings (empty continuation lines), one line each. */
  warnings: string[];
  /** `# syntax=` as written, if any (recorded, never fetched). */
  syntax?: string;
}

export function analyzeDockerfile(text: string, opts: FrontendOptions): Frontend {
  const df = parseDockerfile(text, opts.file ?? 'Dockerfile');
  const parsed = splitStages(df);
  const input = { buildArgs: opts.buildArgs ?? new Map<string, string>(), target: opts.targetPlatform, build: opts.buildPlatform };
  const globalArgs = resolveGlobalArgs(parsed.metaArgs, input, df.escapeToken);
  const graph = stageGraph(parsed, globalArgs, opts.target);
  return { parsed, globalArgs, graph, warnings: df.warnings, syntax: df.directives.find((d) => d.name === 'syntax')?.value };
}
