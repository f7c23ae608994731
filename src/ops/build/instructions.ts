/**
 * Syntax tree → typed instructions, with BuildKit's per-instruction checks (argument counts,
 * flags, HEALTHCHECK durations, SHELL must be JSON, ONBUILD restrictions, stage names).
 * Every error is a one-line DOCKERFILE error at the instruction's file:line. Pure.
 */
import { nodeArgs, type InstructionNode } from './ast.js';
import { dockerfileError, LineError } from './errors.js';
import { INSTRUCTION_FLAGS, parseFlags, type FlagValues } from './flags.js';
import { parseGoDuration } from './go-format.js';
import { chompHeredoc, parseHeredocWord } from './heredoc.js';
import type { InlineFile, Instruction, KeyValue, Loc } from './instruction-types.js';

export const INSTRUCTION_NAMES = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL',
  'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
] as const;

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;
/** HEALTHCHECK intervals below this are refused (docker's container.MinimumDuration). */
const MIN_DURATION_NS = 1e6;

const atLeastOne = (n: string) => new LineError(`${n} requires at least one argument`);
const exactlyOne = (n: string) => new LineError(`${n} requires exactly one argument`);

/** JSON form keeps its words; shell form is one string (the words joined back). */
function cmdLine(args: string[], json: boolean): string[] {
  if (!args.length) return [];
  return json ? args : [args.join(' ')];
}

function flagsFor(node: InstructionNode, name: string): FlagValues {
  return parseFlags(name, node.flags, INSTRUCTION_FLAGS[node.cmd] ?? {});
}

function pairs(args: string[], name: string): KeyValue[] {
  if (!args.length) throw atLeastOne(name);
  if (args.length % 3) throw new LineError(`Bad input to ${name}, too many arguments`);
  const out: KeyValue[] = [];
  for (let i = 0; i < args.length; i += 3) {
    if (!args[i]) throw new LineError(`${name} names can not be blank`);
    out.push({ key: args[i]!, value: args[i + 1]!, legacy: args[i + 2] === '' });
  }
  return out;
}

function inlineFiles(node: InstructionNode): InlineFile[] {
  return node.heredocs.map((h) => ({ name: h.name, data: h.content, chomp: h.chomp, expand: h.expand }));
}

function duration(f: FlagValues, name: string): number {
  const s = f.strings.get(name);
  if (!s) return 0;
  const ns = parseGoDuration(s);
  if (ns !== 0 && ns < MIN_DURATION_NS) throw new LineError(`Interval "${name}" cannot be less than 1ms`);
  return ns;
}

/** One node → one typed instruction. Throws DOCKERFILE errors at the node's file:line. */
export function parseInstruction(node: InstructionNode, file: string): Instruction {
  const loc: Loc = { file, line: node.startLine, endLine: node.endLine };
  try {
    return build(node, loc);
  } catch (e) {
    if (e instanceof LineError) throw dockerfileError(file, node.startLine, e.message, e.hint);
    throw e;
  }
}

/** Instructions whose arguments may be a JSON array (exec form). */
const EXEC_FORM = new Set(['run', 'cmd', 'entrypoint', 'shell', 'copy', 'add', 'volume', 'healthcheck']);

/**
 * A JSON array that does not parse is shell form for BuildKit (its parser cases say so), and
 * `sh -c '["echo", "x"'` then fails when the image runs. A text starting with `["` or `['`
 * can only have been meant as JSON (the shell's `[` test needs a space after it), so tsrun
 * refuses it here, at its line, instead. (Deliberately stricter than docker.)
 */
function rejectBrokenJSON(node: InstructionNode, args: string[]): void {
  if (node.json || !EXEC_FORM.has(node.cmd)) return;
  const words = node.cmd === 'healthcheck' ? args.slice(1) : args;
  const text = words.join(' ').trim();
  if (/^\[["']/.test(text)) {
    throw new LineError(`${node.cmd.toUpperCase()} arguments look like a JSON array but are not valid JSON: ${text}`, 'write ["executable", "arg"] with double quotes, commas and a closing ]');
  }
}

function build(node: InstructionNode, loc: Loc): Instruction {
  const name = node.cmd.toUpperCase();
  const args = nodeArgs(node);
  rejectBrokenJSON(node, args);
  switch (node.cmd) {
    case 'from': {
      const f = flagsFor(node, name);
      let stageName: string | undefined;
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        stageName = args[2]!.toLowerCase();
        if (!STAGE_NAME.test(stageName)) {
          throw new LineError(`invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`);
        }
      } else if (args.length !== 1) throw new LineError('FROM requires either one or three arguments', 'write FROM IMAGE [AS NAME]');
      return { ...loc, kind: 'FROM', image: args[0]!, stageName, platform: f.strings.get('platform') };
    }
    case 'run': {
      const f = flagsFor(node, name);
      const network = f.strings.get('network');
      if (network !== undefined && !['default', 'none', 'host'].includes(network)) {
        throw new LineError(`unsupported network mode "${network}"`, 'use --network=default, none or host');
      }
      const security = f.strings.get('security');
      if (security !== undefined && !['sandbox', 'insecure'].includes(security)) {
        throw new LineError(`unsupported security mode "${security}"`, 'use --security=sandbox or insecure');
      }
      const files = inlineFiles(node);
      const cmd = cmdLine(args, node.json);
      if (files.length && (cmd.length !== 1 || node.json)) throw new LineError(`parsing produced an invalid run command: ${JSON.stringify(cmd)}`);
      return {
        ...loc,
        kind: 'RUN',
        cmd,
        shellForm: !node.json,
        files,
        mounts: f.lists.get('mount') ?? [],
        network: network as 'default' | 'none' | 'host' | undefined,
        security: security as 'sandbox' | 'insecure' | undefined,
      };
    }
    case 'cmd':
    case 'entrypoint':
      flagsFor(node, name);
      return { ...loc, kind: name as 'CMD' | 'ENTRYPOINT', cmd: cmdLine(args, node.json), shellForm: !node.json };
    case 'shell': {
      flagsFor(node, name);
      if (!args.length) throw atLeastOne('SHELL');
      if (!node.json) throw new LineError('SHELL requires the arguments to be in JSON form', 'write SHELL ["executable", "parameters"]');
      return { ...loc, kind: 'SHELL', shell: args };
    }
    case 'env':
    case 'label':
      flagsFor(node, name);
      return { ...loc, kind: name as 'ENV' | 'LABEL', pairs: pairs(args, name) };
    case 'arg': {
      flagsFor(node, name);
      if (!args.length) throw atLeastOne('ARG');
      return {
        ...loc,
        kind: 'ARG',
        args: args.map((a) => {
          const eq = a.indexOf('=');
          if (eq < 0) return { key: a };
          if (eq === 0) throw new LineError('ARG names can not be blank');
          return { key: a.slice(0, eq), value: a.slice(eq + 1) };
        }),
      };
    }
    case 'copy':
    case 'add':
      return copyLike(node, loc, name as 'COPY' | 'ADD', args);
    case 'expose':
      flagsFor(node, name);
      if (!args.length) throw atLeastOne('EXPOSE');
      return { ...loc, kind: 'EXPOSE', ports: args };
    case 'volume': {
      flagsFor(node, name);
      if (!args.length) throw atLeastOne('VOLUME');
      const volumes = args.map((v) => v.trim());
      if (volumes.some((v) => !v)) throw new LineError('VOLUME specified can not be an empty string');
      return { ...loc, kind: 'VOLUME', volumes };
    }
    case 'user':
    case 'workdir':
    case 'stopsignal':
    case 'maintainer': {
      if (args.length !== 1) throw exactlyOne(name);
      flagsFor(node, name);
      const v = args[0]!;
      if (node.cmd === 'user') return { ...loc, kind: 'USER', user: v };
      if (node.cmd === 'workdir') return { ...loc, kind: 'WORKDIR', path: v };
      if (node.cmd === 'stopsignal') return { ...loc, kind: 'STOPSIGNAL', signal: v };
      return { ...loc, kind: 'MAINTAINER', maintainer: v };
    }
    case 'healthcheck':
      return healthcheck(node, loc, args);
    case 'onbuild': {
      flagsFor(node, name);
      const sub = node.args[0];
      if (!sub || !('sub' in sub)) throw atLeastOne('ONBUILD');
      const trigger = sub.sub.cmd.toUpperCase();
      if (trigger === 'ONBUILD') throw new LineError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new LineError(`${trigger} isn't allowed as an ONBUILD trigger`);
      const inner: InstructionNode = { ...sub.sub, heredocs: node.heredocs, startLine: node.startLine, endLine: node.endLine };
      let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
      for (const h of node.heredocs) expression += '\n' + h.content + h.name;
      return { ...loc, kind: 'ONBUILD', expression, trigger: build(inner, loc) };
    }
    default:
      throw new LineError(`unknown instruction: ${node.cmd.toUpperCase()}`, `instructions are ${INSTRUCTION_NAMES.join(', ')}`);
  }
}

function copyLike(node: InstructionNode, loc: Loc, name: 'COPY' | 'ADD', args: string[]): Instruction {
  if (args.length < 2) {
    throw new LineError(`${name} requires at least two arguments, but only one was provided. Destination could not be determined`, `write ${name} SRC... DEST`);
  }
  const f = flagsFor(node, name);
  const dest = args[args.length - 1]!;
  if (parseHeredocWord(dest)) throw new LineError(`${name} cannot accept a heredoc as a destination`);
  const byName = new Map(node.heredocs.map((h) => [h.name, h]));
  const sources: string[] = [];
  const contents: InlineFile[] = [];
  for (const src of args.slice(0, -1)) {
    const h = parseHeredocWord(src);
    if (!h) {
      sources.push(src);
      continue;
    }
    const doc = byName.get(h.name);
    const data = doc?.content ?? '';
    contents.push({ name: h.name, data: h.chomp ? chompHeredoc(data) : data, chomp: h.chomp, expand: h.expand });
  }
  const checksum = f.strings.get('checksum');
  return {
    ...loc,
    kind: name,
    sources,
    contents,
    dest,
    from: f.strings.get('from'),
    chown: f.strings.get('chown'),
    chmod: f.strings.get('chmod'),
    link: f.bools.get('link') ?? false,
    parents: f.bools.get('parents') ?? false,
    exclude: f.lists.get('exclude') ?? [],
    checksum,
    keepGitDir: f.bools.get('keep-git-dir') ?? false,
    unpack: f.bools.get('unpack'),
  };
}

function healthcheck(node: InstructionNode, loc: Loc, args: string[]): Instruction {
  if (!args.length) throw atLeastOne('HEALTHCHECK');
  const typ = args[0]!.toUpperCase();
  const rest = args.slice(1);
  const none = { interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  if (typ === 'NONE') {
    if (rest.length) throw new LineError('HEALTHCHECK NONE takes no arguments');
    parseFlags('HEALTHCHECK NONE', node.flags, {});
    return { ...loc, kind: 'HEALTHCHECK', test: ['NONE'], ...none };
  }
  const f = flagsFor(node, 'HEALTHCHECK');
  if (typ !== 'CMD') throw new LineError(`Unknown type "${typ}" in HEALTHCHECK (try CMD)`);
  const cmd = cmdLine(rest, node.json);
  if (!cmd.length) throw new LineError('Missing command after HEALTHCHECK CMD');
  let retries = 0;
  const r = f.strings.get('retries');
  if (r) {
    if (!/^[+-]?\d+$/.test(r)) throw new LineError(`strconv.ParseInt: parsing "${r}": invalid syntax`);
    retries = Number(r);
    if (retries < 0) throw new LineError(`--retries cannot be negative (${retries})`);
  }
  return {
    ...loc,
    kind: 'HEALTHCHECK',
    test: [node.json ? 'CMD' : 'CMD-SHELL', ...cmd],
    interval: duration(f, 'interval'),
    timeout: duration(f, 'timeout'),
    startPeriod: duration(f, 'start-period'),
    startInterval: duration(f, 'start-interval'),
    retries,
  };
}
