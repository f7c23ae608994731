/**
 * Per-instruction argument parsing of one logical line, BuildKit's line_parsers.go rules:
 *   ADD COPY VOLUME      JSON array, else whitespace-separated words
 *   RUN CMD ENTRYPOINT SHELL   JSON array, else the whole rest as one string (shell form)
 *   ENV LABEL            key=value pairs (quotes kept), or the legacy `KEY value` form
 *   ARG                  words (name or name=value)
 *   FROM EXPOSE          whitespace-separated words
 *   HEALTHCHECK          type word, then like CMD
 *   ONBUILD              a nested instruction
 *   MAINTAINER STOPSIGNAL USER WORKDIR   the rest as one string
 * Nothing is expanded or unquoted here.
 */
import type { ArgNode, InstructionNode } from './ast.js';
import { LineError } from './errors.js';

const WHITESPACE = /[\t\v\f\r ]+/;
const isSpace = (c: string) => /^\s$/u.test(c);

interface Parsed {
  args: ArgNode[];
  json?: boolean;
}

const words = (list: string[]): ArgNode[] => list.map((value) => ({ value }));

/** Go's strings.TrimSpace (Unicode white space). */
export const trimSpace = (s: string) => s.replace(/^\s+|\s+$/gu, '');

/** Split once on the first run of blanks (Go's regexp.Split(s, 2)). */
function splitOnce(s: string): string[] {
  const m = WHITESPACE.exec(s);
  return m ? [s.slice(0, m.index), s.slice(m.index + m[0].length)] : [s];
}

/** `--flag[=value]` words at the start of the arguments; stops at the first word not starting with `--`, or after `--`. */
export function extractBuilderFlags(line: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const atEnd = pos === line.length;
    let ch = atEnd ? '' : line[pos]!;
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isSpace(ch)) continue;
      // only words starting with "--" are flags
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') {
        return { rest: line.slice(pos), flags };
      }
      phase = 'word';
    }
    if (atEnd) {
      if (word !== '--' && (blankOK || word.length)) flags.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return { rest: line.slice(pos), flags };
        if (blankOK || word.length) flags.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === line.length) continue;
        ch = line[++pos]!;
      }
      word += ch;
      continue;
    }
    // in a quote
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      ch = line[++pos]!;
    }
    word += ch;
  }
  return { rest: '', flags };
}

/** The instruction word, its flags and the trimmed rest of a logical line. */
export function splitCommand(line: string): { cmd: string; flags: string[]; rest: string } {
  const parts = splitOnce(trimSpace(line));
  const cmd = parts[0]!.toLowerCase();
  if (parts.length < 2) return { cmd, flags: [], rest: '' };
  const { rest, flags } = extractBuilderFlags(parts[1]!);
  return { cmd, flags, rest: trimSpace(rest) };
}

/** Words separated by blanks, quotes and escapes kept in the words (removed later). */
export function parseWords(rest: string, escapeToken: string): string[] {
  const out: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  let buf = '';
  const cps = Array.from(rest);
  for (let i = 0; i <= cps.length; i++) {
    const atEnd = i === cps.length;
    let ch = atEnd ? '' : cps[i]!;
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isSpace(ch)) continue;
      phase = 'word';
    }
    if (atEnd) {
      if (blankOK || buf.length) out.push(buf);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (blankOK || buf.length) out.push(buf);
        buf = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escapeToken) {
        if (i + 1 === cps.length) continue; // an escape at the end of the line is dropped
        // unquoted: keep the escape and the char after it, even a quote
        buf += ch;
        ch = cps[++i]!;
      }
      buf += ch;
      continue;
    }
    // in a quote
    if (ch === quote) phase = 'word';
    if (ch === escapeToken && quote !== "'") {
      if (i + 1 === cps.length) {
        phase = 'word';
        continue;
      }
      buf += ch;
      ch = cps[++i]!;
    }
    buf += ch;
  }
  return out;
}

function whitespaceDelimited(rest: string): Parsed {
  if (rest === '') return { args: [] };
  return { args: words(rest.split(WHITESPACE)) };
}

/** Exec form: a JSON array of strings. Null when the text is not a JSON array at all. */
function parseJSON(rest: string): Parsed | null {
  const t = rest.replace(/^\s+/u, '');
  if (!t.startsWith('[')) return null;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return null;
  }
  if (!Array.isArray(v)) return null;
  if (!v.every((x) => typeof x === 'string')) {
    throw new LineError('when using JSON array syntax, arrays must be comprised of strings only', 'use ["cmd", "arg"] with string elements only');
  }
  return { args: words(v as string[]), json: true };
}

function maybeJSON(rest: string): Parsed {
  if (rest === '') return { args: [] };
  return parseJSON(rest) ?? { args: [{ value: rest }] };
}

function maybeJSONToList(rest: string): Parsed {
  return parseJSON(rest) ?? whitespaceDelimited(rest);
}

function keyValue(key: string, value: string, sep: string): ArgNode[] {
  return [{ value: key }, { value }, { value: sep }];
}

/** ENV / LABEL: `k=v k2="v 2"` (triples k, v, "="), or legacy `KEY value` (k, v, ""). */
function nameVal(rest: string, instr: string, escapeToken: string): Parsed {
  const ws = parseWords(rest, escapeToken);
  if (!ws.length) return { args: [] };
  if (!ws[0]!.includes('=')) {
    const parts = splitOnce(rest);
    if (parts.length < 2) throw new LineError(`${instr} must have two arguments`, `write ${instr} NAME=VALUE`);
    return { args: keyValue(parts[0]!, parts[1]!, '') };
  }
  const args: ArgNode[] = [];
  for (const w of ws) {
    const i = w.indexOf('=');
    if (i < 0) throw new LineError(`Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`);
    args.push(...keyValue(w.slice(0, i), w.slice(i + 1), '='));
  }
  return { args };
}

function healthConfig(rest: string): Parsed {
  let sep = 0;
  while (sep < rest.length && !isSpace(rest[sep]!)) sep++;
  if (sep === 0) return { args: [] };
  let next = sep;
  while (next < rest.length && isSpace(rest[next]!)) next++;
  const cmd = maybeJSON(rest.slice(next));
  return { args: [{ value: rest.slice(0, sep) }, ...cmd.args], json: cmd.json };
}

export type SubParser = (line: string) => InstructionNode;

/** Dispatch by instruction name. Unknown names keep one empty word, as BuildKit's parseIgnore. */
export function parseArgs(cmd: string, rest: string, escapeToken: string, parseSub: SubParser): Parsed {
  switch (cmd) {
    case 'add':
    case 'copy':
    case 'volume':
      return maybeJSONToList(rest);
    case 'run':
    case 'cmd':
    case 'entrypoint':
    case 'shell':
      return maybeJSON(rest);
    case 'env':
      return nameVal(rest, 'ENV', escapeToken);
    case 'label':
      return nameVal(rest, 'LABEL', escapeToken);
    case 'arg':
      return { args: words(parseWords(rest, escapeToken)) };
    case 'from':
    case 'expose':
      return whitespaceDelimited(rest);
    case 'healthcheck':
      return healthConfig(rest);
    case 'onbuild':
      return rest === '' ? { args: [] } : { args: [{ sub: parseSub(rest) }] };
    case 'maintainer':
    case 'stopsignal':
    case 'user':
    case 'workdir':
      return rest === '' ? { args: [] } : { args: [{ value: rest }] };
    default:
      return { args: [{ value: '' }] };
  }
}
