/**
 * The Dockerfile parser: text → instruction nodes with line ranges, as BuildKit's frontend
 * 1.x parser (frontend/dockerfile/parser/parser.go) reads a file:
 *  - a UTF-8 BOM is dropped; parser directives (directives.ts) only at the top;
 *  - a line whose first non-blank char is `#` is a comment, also inside a continuation;
 *  - the escape token (`\` or `` ` ``) as the last non-blank char continues the line; blank
 *    lines inside a continuation are skipped (with a warning, as BuildKit);
 *  - RUN/COPY/ADD (and ONBUILD of them) in shell form may open heredocs, whose bodies are the
 *    following lines up to the terminator.
 * Pure: takes the text, returns the tree or throws a DOCKERFILE error naming file:line.
 */
import type { Dockerfile, InstructionNode } from './ast.js';
import { DirectiveReader } from './directives.js';
import { dockerfileError, LineError } from './errors.js';
import { heredocsInLine } from './heredoc.js';
import { parseArgs, splitCommand } from './line-parsers.js';

const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run']);

/** Physical lines, each with its line ending kept (heredoc bodies keep them). */
function scanLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      if (start < text.length) out.push(text.slice(start));
      return out;
    }
    out.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
}

const trimNewline = (s: string) => s.replace(/[\r\n]+$/, '');
const trimLeft = (s: string) => s.replace(/^\s+/u, '');
const isComment = (line: string) => trimLeft(trimNewline(line)).startsWith('#');

function continuationRegex(escape: string): RegExp {
  const e = escape === '\\' ? '\\\\' : '`';
  // the escape token as the last non-blank char, unless it is itself escaped by the char before
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

function newNode(line: string, escapeToken: string, comments: string[]): InstructionNode {
  const { cmd, flags, rest } = splitCommand(line);
  const parsed = parseArgs(cmd, rest, escapeToken, (sub) => newNode(sub, escapeToken, []));
  return {
    cmd,
    original: line,
    flags,
    args: parsed.args,
    json: !!parsed.json,
    heredocs: [],
    startLine: 0,
    endLine: 0,
    comments,
  };
}

function canContainHeredoc(node: InstructionNode): boolean {
  let n = node;
  if (n.cmd === 'onbuild' && n.args[0] && 'sub' in n.args[0]) n = n.args[0].sub;
  return HEREDOC_INSTRUCTIONS.has(n.cmd) && !n.json;
}

export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const lines = scanLines(text);
  const directives = new DirectiveReader();
  const instructions: InstructionNode[] = [];
  const warnings: string[] = [];
  let comments: string[] = [];
  let i = 0; // index of the next physical line; i is also the 1-based number of the last line read

  const fail = (line: number, e: unknown): never => {
    if (e instanceof Error) throw dockerfileError(file, line, e.message, (e as LineError).hint);
    throw e;
  };

  /** Strip the newline (and, for a first line, leading blanks), feed the directive reader, drop a comment. */
  const process = (raw: string, lineNo: number, stripLeft: boolean): string => {
    let t = trimNewline(raw);
    if (stripLeft) t = trimLeft(t);
    try {
      directives.read(t, lineNo);
    } catch (e) {
      fail(lineNo, e);
    }
    return t.startsWith('#') ? '' : t;
  };

  while (i < lines.length) {
    let raw = lines[i]!;
    if (i === 0 && raw.startsWith('\ufeff')) raw = raw.slice(1);
    if (isComment(raw)) comments.push(trimLeft(trimNewline(raw)).slice(1).trim());
    const first = process(raw, i + 1, true);
    i++;
    const startLine = i;
    const cont = continuationRegex(directives.escapeToken);
    let line = first;
    let ended = !cont.test(line);
    if (!ended) line = line.replace(cont, '$1');
    if (ended && line === '') continue;

    let emptyContinuation = false;
    while (!ended && i < lines.length) {
      const next = lines[i]!;
      const t = process(next, i + 1, false);
      i++;
      if (isComment(next)) continue;
      if (trimLeft(t) === '') {
        emptyContinuation = true;
        continue;
      }
      ended = !cont.test(t);
      line += ended ? t : t.replace(cont, '$1');
    }
    if (emptyContinuation) warnings.push(`${file}:${startLine}: empty continuation line (empty continuation lines will become errors in a future release)`);

    let node: InstructionNode;
    try {
      node = newNode(line, directives.escapeToken, comments);
    } catch (e) {
      return fail(startLine, e);
    }

    if (canContainHeredoc(node)) {
      let docs;
      try {
        docs = heredocsInLine(line);
      } catch (e) {
        return fail(startLine, e);
      }
      for (const doc of docs) {
        let terminated = false;
        while (i < lines.length) {
          const body = lines[i]!;
          i++;
          let candidate = trimNewline(body);
          if (doc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === doc.name) {
            terminated = true;
            break;
          }
          doc.content += body;
        }
        if (!terminated) {
          throw dockerfileError(file, startLine, `unterminated heredoc: no line "${doc.name}" after line ${startLine}`, `end the heredoc with a line holding only ${doc.name}`);
        }
        node.heredocs.push(doc);
      }
    }
    node.startLine = startLine;
    node.endLine = i;
    instructions.push(node);
    comments = [];
  }

  if (!instructions.length) {
    throw dockerfileError(file, 0, 'file with no instructions', 'a Dockerfile needs at least a FROM instruction');
  }
  return {
    file,
    instructions,
    escapeToken: directives.escapeToken,
    directives: directives.found,
    warnings,
  };
}
