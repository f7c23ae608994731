/**
 * ARG scoping, as docker documents it and BuildKit does it:
 *  - ARGs before the first FROM are global: visible only to FROM lines, until a stage
 *    re-declares them with `ARG NAME` (which then takes the global value);
 *  - a stage ARG's value is the --build-arg if one was given, else its default (expanded with
 *    what the stage sees at that point), else the global value of the same name;
 *  - ENV wins over ARG of the same name, whichever comes first;
 *  - predefined ARGs: the proxy variables (usable in RUN without a declaration, never in
 *    history) and the platform ones (TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT,
 *    BUILDPLATFORM, BUILDOS, BUILDARCH, BUILDVARIANT), global automatically, in a stage once declared.
 * Pure.
 */
import type { Platform } from '../../oci/types.js';
import type { EnvLookup } from './shell-lex.js';
import { ShellLex } from './shell-lex.js';
import type { Of } from './instruction-types.js';
import { atLine } from './errors.js';

export const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

export const formatPlatform = (p: Platform) => `${p.os}/${p.architecture}${p.variant ? '/' + p.variant : ''}`;

/** The platform ARGs BuildKit predefines in the global scope. */
export function platformArgs(target: Platform, build: Platform): Map<string, string> {
  return new Map([
    ['TARGETPLATFORM', formatPlatform(target)],
    ['TARGETOS', target.os],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['BUILDPLATFORM', formatPlatform(build)],
    ['BUILDOS', build.os],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
  ]);
}

export interface BuildArgInput {
  /** --build-arg values. */
  buildArgs: ReadonlyMap<string, string>;
  target: Platform;
  build: Platform;
}

/**
 * The global scope: predefined platform ARGs, then each ARG before the first FROM in order.
 * Returns what FROM lines (and stage re-declarations) see.
 */
export function resolveGlobalArgs(metaArgs: readonly Of<'ARG'>[], input: BuildArgInput, escapeToken = '\\'): Map<string, string> {
  const scope = platformArgs(input.target, input.build);
  const lex = new ShellLex({ escapeToken });
  for (const instr of metaArgs) {
    for (const a of instr.args) {
      const given = input.buildArgs.get(a.key);
      if (given !== undefined) scope.set(a.key, given);
      else if (a.value !== undefined) {
        const v = atLine(instr.file, instr.line, () => lex.processWord(a.value!, lookup(scope)));
        scope.set(a.key, v);
      }
      // a declaration without a value keeps a predefined value, if any
    }
  }
  return scope;
}

export const lookup = (m: ReadonlyMap<string, string>): EnvLookup => ({ get: (k) => m.get(k) });

/** A stage's variables: ENV (image config order) and ARGs declared in the stage. */
export class StageVars {
  /** ENV, in image config order (base image's first). */
  readonly env: Map<string, string>;
  /** Declared ARGs in declaration order; undefined value = declared without one. */
  readonly args = new Map<string, string | undefined>();

  constructor(baseEnv: readonly string[]) {
    this.env = new Map();
    for (const e of baseEnv) {
      const i = e.indexOf('=');
      this.env.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
    }
  }

  /** What $NAME means here: ENV first (ENV wins over ARG), then ARGs that have a value. */
  lookup(): EnvLookup {
    return { get: (k) => (this.env.has(k) ? this.env.get(k) : this.args.get(k)) };
  }

  /** Declare `ARG key[=default]`; returns the value it takes (undefined when it has none). */
  declare(key: string, value: string | undefined, global: ReadonlyMap<string, string>, input: BuildArgInput): string | undefined {
    const given = input.buildArgs.get(key);
    const v = given !== undefined ? given : value !== undefined ? value : global.get(key);
    this.args.delete(key); // keep declaration order: a re-declaration moves to the end
    this.args.set(key, v);
    return v;
  }

  setEnv(key: string, value: string): void {
    this.env.set(key, value);
  }

  /** The image config's Env list. */
  envList(): string[] {
    return [...this.env].map(([k, v]) => `${k}=${v}`);
  }

  /**
   * The environment a RUN sees: image ENV, then ARGs with values that no ENV shadows, then
   * proxy build-args (never declared, never in history).
   */
  runEnv(input: BuildArgInput): string[] {
    const out = this.envList();
    for (const [k, v] of this.args) if (v !== undefined && !this.env.has(k)) out.push(`${k}=${v}`);
    for (const k of PROXY_ARGS) {
      const v = input.buildArgs.get(k);
      if (v !== undefined && !this.env.has(k) && !this.args.has(k)) out.push(`${k}=${v}`);
    }
    return out;
  }

  /** The `|N k=v …` prefix BuildKit writes before a RUN's created_by: declared ARGs, as the env sees them. */
  runArgsForHistory(): string[] {
    const out: string[] = [];
    for (const [k, v] of this.args) out.push(`${k}=${this.env.get(k) ?? v ?? ''}`);
    return out;
  }
}

/** Build args nobody declared (docker warns: "[Warning] One or more build-args [...] were not consumed"). */
export function unusedBuildArgs(buildArgs: ReadonlyMap<string, string>, declared: ReadonlySet<string>): string[] {
  return [...buildArgs.keys()].filter((k) => !declared.has(k) && !PROXY_ARGS.includes(k)).sort();
}
