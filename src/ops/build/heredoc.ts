/**
 * Heredocs in RUN, COPY and ADD (and ONBUILD of those): `<<EOF`, `<<-EOF` (leading tabs
 * stripped), `<<"EOF"` / `<<'EOF'` (body not expanded), `3<<EOF` (fd), several per line.
 * Detection is BuildKit's: split the line into words with quotes and escapes kept, then
 * each word of the form [digits]<<[-]NAME names a heredoc whose body follows the line.
 */
import { ShellLex, ShellLexError } from './shell-lex.js';

export interface Heredoc {
  /** Terminator word, quotes removed. */
  name: string;
  fileDescriptor: number;
  /** False when any part of the delimiter was quoted: the body is taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs are removed from the body lines and the terminator. */
  chomp: boolean;
  /** The body, each line with its newline, terminator excluded. */
  content: string;
}

const HEREDOC = /^(\d*)<<(-?)([^<]*)$/;
const NO_ENV = { get: () => undefined };

/** The heredoc a single word introduces, or null when it is not one. */
export function parseHeredocWord(word: string): Heredoc | null {
  const m = HEREDOC.exec(word);
  if (!m || !m[3]) return null;
  const rest = m[3];
  const words = new ShellLex({ skipUnsetEnv: true }).processWords(rest, NO_ENV);
  if (words.length !== 1) return null;
  const raw = new ShellLex({ skipUnsetEnv: true, rawQuotes: true }).processWords(rest, NO_ENV);
  if (raw.length !== 1) throw new ShellLexError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return {
    name: words[0]!,
    fileDescriptor: m[1] ? Number(m[1]) : 0,
    expand: quotes(words[0]!) === quotes(raw[0]!),
    chomp: m[2] === '-',
    content: '',
  };
}

/** Every heredoc a logical line opens, in order. A line that does not lex opens none. */
export function heredocsInLine(line: string): Heredoc[] {
  let words: string[];
  try {
    words = new ShellLex({ rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).processWords(line, NO_ENV);
  } catch {
    return [];
  }
  const out: Heredoc[] = [];
  for (const w of words) {
    const h = parseHeredocWord(w);
    if (h) out.push(h);
  }
  return out;
}

/** `<<-` bodies lose the leading tabs of every line. */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}
