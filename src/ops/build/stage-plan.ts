/**
 * A stage's instructions evaluated in order against its ARGs and ENV, without running
 * anything: each instruction's words expanded where BuildKit expands them, the image config
 * it leaves behind, its history `created_by`, and for the steps that touch files (RUN, COPY,
 * ADD, WORKDIR) everything the executor needs. The base image's ONBUILD triggers run first.
 * The executor (later) walks `steps`; caching keys on them. Pure.
 */
import type { ImageRunConfig } from '../../oci/types.js';
import { StageVars, type BuildArgInput } from './args.js';
import { parseDockerfile } from './parser.js';
import { parseInstruction } from './instructions.js';
import type { InlineFile, Instruction, KeyValue, Of } from './instruction-types.js';
import { dockerfileError, LineError } from './errors.js';
import { chompHeredoc, parseHeredocWord } from './heredoc.js';
import { ShellLex, ShellLexError } from './shell-lex.js';
import { parseRunMount, type RunMount } from './run-mount.js';
import { checkSignal, normalizeWorkdir, parseChmod, portSpecs, resolveDest } from './config-values.js';
import * as H from './history.js';
import type { Stage } from './stages.js';

/** The image config fields a Dockerfile sets (docker's, with Shell). */
export type StageConfig = ImageRunConfig & { Shell?: string[] };

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

interface StepBase {
  /** The instruction as written (ONBUILD triggers carry the base image's text). */
  instr: Instruction;
  createdBy: string;
  /** True for steps that never make a layer (metadata); RUN/COPY/ADD/WORKDIR decide when run. */
  emptyLayer: boolean;
}

export type Step = StepBase &
  (
    | { kind: 'config' }
    | {
        kind: 'run';
        argv: string[];
        env: string[];
        user?: string;
        workdir: string;
        mounts: RunMount[];
        network: 'default' | 'none' | 'host';
        /** A single heredoc starting with #! is mounted at /dev/pipes/NAME and run as that file. */
        scripts: { path: string; data: string }[];
      }
    | {
        kind: 'copy';
        add: boolean;
        sources: string[];
        contents: { name: string; data: string }[];
        /** Absolute; ends in "/" when the destination is a directory. */
        dest: string;
        from?: string;
        chown?: string;
        chmod?: number;
        link: boolean;
        parents: boolean;
        exclude: string[];
        checksum?: string;
        keepGitDir: boolean;
        unpack?: boolean;
      }
    | { kind: 'workdir'; path: string; user?: string }
  );

export interface StagePlan {
  steps: Step[];
  config: StageConfig;
  /** MAINTAINER: the image config's top-level `author`. */
  author?: string;
  /** ARG names this stage declared (for the "build-args were not consumed" warning). */
  declaredArgs: Set<string>;
}

export interface PlanInput extends BuildArgInput {
  globalArgs: ReadonlyMap<string, string>;
  /** The base image's config (empty for scratch). */
  base: StageConfig;
  escapeToken?: string;
}

/** The base image's ONBUILD triggers as instructions, located at the FROM line that pulls them in. */
function onbuildTriggers(stage: Stage, base: StageConfig): Instruction[] {
  return (base.OnBuild ?? []).map((text) => {
    const where = `${stage.from.file}:${stage.from.line}: ONBUILD trigger`;
    const df = parseDockerfile(text, where);
    if (df.instructions.length !== 1) throw dockerfileError(stage.from.file, stage.from.line, `onbuild trigger should be a single expression: ${text}`);
    const node = df.instructions[0]!;
    const instr = parseInstruction(node, stage.from.file);
    return { ...instr, line: stage.from.line, endLine: stage.from.endLine };
  });
}

export function planStage(stage: Stage, input: PlanInput): StagePlan {
  const config: StageConfig = structuredClone(input.base);
  const triggers = onbuildTriggers(stage, config);
  config.OnBuild = null; // triggers run once, in the image built FROM the one that declared them
  const vars = new StageVars(config.Env ?? []);
  const lex = new ShellLex({ escapeToken: input.escapeToken ?? '\\' });
  const steps: Step[] = [];
  const declaredArgs = new Set<string>();
  let cmdSet = false;
  let author: string | undefined;

  for (const instr of [...triggers, ...stage.instructions]) {
    const at = <T>(fn: () => T): T => {
      try {
        return fn();
      } catch (e) {
        if (e instanceof LineError || e instanceof ShellLexError) {
          throw dockerfileError(instr.file, instr.line, e.message, (e as LineError).hint);
        }
        throw e;
      }
    };
    const word = (w: string) => at(() => lex.processWord(w, vars.lookup()));
    const meta = (createdBy: string) => steps.push({ kind: 'config', instr, createdBy, emptyLayer: true });
    const shell = () => config.Shell?.length ? config.Shell : DEFAULT_SHELL;

    switch (instr.kind) {
      case 'FROM':
        break;
      case 'ARG': {
        const shown: { key: string; value?: string }[] = [];
        for (const a of instr.args) {
          const def = a.value === undefined ? undefined : word(a.value);
          const v = vars.declare(a.key, def, input.globalArgs, input);
          declaredArgs.add(a.key);
          shown.push({ key: a.key, value: v });
        }
        meta(H.argCreatedBy(shown));
        break;
      }
      case 'ENV':
      case 'LABEL': {
        const pairs: KeyValue[] = instr.pairs.map((p) => ({ key: word(p.key), value: word(p.value) }));
        if (instr.kind === 'ENV') {
          for (const p of pairs) vars.setEnv(p.key, p.value);
          config.Env = vars.envList();
          meta(H.envCreatedBy(pairs));
        } else {
          config.Labels = { ...(config.Labels ?? {}) };
          for (const p of pairs) config.Labels[p.key] = p.value;
          meta(H.labelCreatedBy(pairs));
        }
        break;
      }
      case 'RUN':
        steps.push(planRun(instr, config, vars, input, shell(), word, at));
        break;
      case 'COPY':
      case 'ADD':
        steps.push(planCopy(instr, config, vars, word, at));
        break;
      case 'WORKDIR': {
        const wd = normalizeWorkdir(config.WorkingDir, word(instr.path));
        config.WorkingDir = wd;
        steps.push({ kind: 'workdir', instr, createdBy: H.workdirCreatedBy(wd), emptyLayer: wd === '/', path: wd, user: config.User || undefined });
        break;
      }
      case 'USER':
        config.User = word(instr.user);
        meta(H.userCreatedBy(config.User));
        break;
      case 'CMD':
      case 'ENTRYPOINT': {
        const argv = instr.shellForm ? [...shell(), instr.cmd.join(' ')] : instr.cmd;
        if (instr.kind === 'CMD') {
          config.Cmd = argv;
          config.ArgsEscaped = true;
          cmdSet = true;
          meta(H.cmdCreatedBy(argv));
        } else {
          config.Entrypoint = argv;
          if (!cmdSet) config.Cmd = null; // a new ENTRYPOINT drops the base image's CMD
          meta(H.entrypointCreatedBy(argv));
        }
        break;
      }
      case 'SHELL':
        config.Shell = instr.shell;
        meta(H.shellCreatedBy(instr.shell));
        break;
      case 'EXPOSE': {
        const ports = instr.ports.flatMap((p) => at(() => lex.processWords(p, vars.lookup()))).flatMap((p) => at(() => portSpecs(p)));
        config.ExposedPorts = { ...(config.ExposedPorts ?? {}) };
        for (const p of ports) config.ExposedPorts[p] = {};
        meta(H.exposeCreatedBy(ports));
        break;
      }
      case 'VOLUME': {
        const vols = instr.volumes.map(word);
        if (vols.some((v) => !v)) at(() => {
          throw new LineError('VOLUME specified can not be an empty string');
        });
        config.Volumes = { ...(config.Volumes ?? {}) };
        for (const v of vols) config.Volumes[v] = {};
        meta(H.volumeCreatedBy(vols));
        break;
      }
      case 'STOPSIGNAL': {
        const sig = word(instr.signal);
        at(() => checkSignal(sig));
        config.StopSignal = sig;
        meta(H.stopSignalCreatedBy(sig));
        break;
      }
      case 'MAINTAINER':
        author = instr.maintainer;
        meta(H.maintainerCreatedBy(instr.maintainer));
        break;
      case 'HEALTHCHECK': {
        const { test, interval, timeout, startPeriod, startInterval, retries } = instr;
        config.Healthcheck = { Test: test, Interval: interval, Timeout: timeout, StartPeriod: startPeriod, Retries: retries, ...(startInterval ? { StartInterval: startInterval } : {}) };
        meta(H.healthcheckCreatedBy(instr));
        break;
      }
      case 'ONBUILD':
        // recorded for images built FROM this one; BuildKit writes no history row for it
        config.OnBuild = [...(config.OnBuild ?? []), instr.expression];
        break;
    }
  }
  return { steps, config, author, declaredArgs };
}

type Word = (w: string) => string;
type At = <T>(fn: () => T) => T;

function planRun(instr: Of<'RUN'>, config: StageConfig, vars: StageVars, input: PlanInput, shell: string[], word: Word, at: At): Step {
  let args = instr.cmd;
  const scripts: { path: string; data: string }[] = [];
  if (instr.files.length) {
    const single = parseHeredocWord(args[0]!);
    if (single) {
      // one heredoc as the whole command: a #! script runs as a file, anything else as shell text
      const f = instr.files[0]!;
      const data = f.chomp ? chompHeredoc(f.data) : f.data;
      if (data.startsWith('#!')) {
        const path = '/dev/pipes/' + f.name;
        scripts.push({ path, data });
        args = [path];
      } else args = [data];
    } else {
      args = [args[0] + instr.files.map((f: InlineFile) => '\n' + f.data + f.name).join('')];
    }
  }
  const argv = instr.shellForm ? [...shell, args.join(' ')] : args;
  const mounts = instr.mounts.map((m) => at(() => parseRunMount(m, word)));
  return {
    kind: 'run',
    instr,
    createdBy: H.runCreatedBy(argv, vars.runArgsForHistory()),
    emptyLayer: false,
    argv,
    env: vars.runEnv(input),
    user: config.User || undefined,
    workdir: config.WorkingDir || '/',
    mounts,
    network: instr.network ?? 'default',
    scripts,
  };
}

function planCopy(instr: Of<'COPY' | 'ADD'>, config: StageConfig, vars: StageVars, word: Word, at: At): Step {
  const sources = instr.sources.map(word);
  const dest = word(instr.dest);
  const chown = instr.chown === undefined ? undefined : word(instr.chown);
  const chmodText = instr.chmod === undefined ? undefined : word(instr.chmod);
  const chmod = chmodText === undefined ? undefined : at(() => parseChmod(chmodText));
  const body = new ShellLex({ skipProcessQuotes: true });
  const contents = instr.contents.map((c) => ({ name: c.name, data: c.expand ? at(() => body.processWord(c.data, vars.lookup())) : c.data }));
  if (instr.checksum !== undefined) {
    at(() => {
      if (sources.length !== 1) throw new LineError("checksum can't be specified for multiple sources");
      if (!/^https?:\/\//.test(sources[0]!)) throw new LineError("checksum can't be specified for non-HTTP(S) sources");
    });
  }
  if (instr.kind === 'COPY') {
    const url = sources.find((s) => /^https?:\/\//.test(s));
    if (url) {
      at(() => {
        throw new LineError("source can't be a URL for COPY", 'use ADD to download a URL');
      });
    }
  }
  return {
    kind: 'copy',
    instr,
    add: instr.kind === 'ADD',
    createdBy: H.copyCreatedBy(instr.kind, { parents: instr.parents, chown, chmod: chmodText, sources, heredocs: contents.map((c) => c.name), dest }),
    emptyLayer: false,
    sources,
    contents,
    dest: resolveDest(config.WorkingDir, dest),
    from: instr.from,
    chown,
    chmod,
    link: instr.link,
    parents: instr.parents,
    exclude: instr.exclude.map(word),
    checksum: instr.checksum === undefined ? undefined : word(instr.checksum),
    keepGitDir: instr.keepGitDir,
    unpack: instr.unpack,
  };
}
