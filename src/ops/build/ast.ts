/**
 * The Dockerfile syntax tree, shaped like BuildKit's parser.Node so that it dumps to the same
 * s-expressions its parser tests use. Values are raw: quotes, escapes and $variables are
 * left for the instruction layer (instructions.ts), as BuildKit does.
 */
import type { Heredoc } from './heredoc.js';
import { goQuote } from './shell-lex.js';

/** One argument: a plain word, or (ONBUILD only) a nested instruction. */
export type ArgNode = { value: string } | { sub: InstructionNode };

export interface InstructionNode {
  /** Instruction name, lower-cased ("run", "from" …); unknown names are kept (the instruction layer rejects them). */
  cmd: string;
  /** The logical line as read: continuations joined, comment lines dropped. */
  original: string;
  /** `--name=value` words before the arguments, in order. */
  flags: string[];
  args: ArgNode[];
  /** Exec (JSON array) form. */
  json: boolean;
  heredocs: Heredoc[];
  /** 1-based, inclusive; includes continuation lines and heredoc bodies. */
  startLine: number;
  endLine: number;
  /** `#` comment lines right above the instruction (BuildKit uses them for ARG/stage descriptions). */
  comments: string[];
}

export interface Dockerfile {
  /** The name used in messages (the -f path as given, or "Dockerfile"). */
  file: string;
  instructions: InstructionNode[];
  escapeToken: string;
  directives: { name: string; value: string; line: number }[];
  warnings: string[];
}

/** The words of an instruction: ONBUILD's sub-instruction contributes its name then its words. */
export function nodeArgs(node: InstructionNode): string[] {
  const out: string[] = [];
  for (const a of node.args) {
    if ('value' in a) out.push(a.value);
    else out.push(a.sub.cmd, ...nodeArgs(a.sub));
  }
  return out;
}

/** BuildKit's Node.Dump for one instruction: (cmd ["--flags"] "arg" …). */
export function dumpInstruction(node: InstructionNode): string {
  let s = node.cmd.toLowerCase();
  if (node.flags.length) s += ' [' + node.flags.map(goQuote).join(' ') + ']';
  for (const a of node.args) s += ' ' + ('value' in a ? goQuote(a.value) : '(' + dumpInstruction(a.sub) + ')');
  return s.trim();
}

/** The whole file, one s-expression per line (BuildKit's root Dump, without the final newline). */
export function dumpDockerfile(df: Dockerfile): string {
  return df.instructions.map((n) => '(' + dumpInstruction(n) + ')').join('\n');
}
