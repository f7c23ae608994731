/**
 * The Dockerfile word expander: BuildKit's shell lexer (frontend/dockerfile/shell/lex.go),
 * re-implemented from its documented behaviour and test tables (shell/envVarTest, wordsTest).
 *
 * It removes quotes and escapes, expands $V ${V} ${V:-w} ${V-w} ${V:+w} ${V+w} ${V?w} ${V:?w}
 * ${V#p} ${V##p} ${V%p} ${V%%p} ${V/p/r} ${V//p/r}, and (processWords) splits into words the
 * way EXPOSE and the heredoc detector need: only unquoted text and expanded values split.
 * It never runs anything: there is no $(…) or `…`. Pure, no I/O.
 */

/** Variable lookup: undefined = unset (distinct from set-but-empty). */
export interface EnvLookup {
  get(name: string): string | undefined;
}

export function envFromMap(map: ReadonlyMap<string, string> | Record<string, string>): EnvLookup {
  if (map instanceof Map) return { get: (k) => map.get(k) };
  const rec = map as Record<string, string>;
  return { get: (k) => (Object.prototype.hasOwnProperty.call(rec, k) ? rec[k] : undefined) };
}

/** "K=V" list, first definition of a key wins (as BuildKit's buildEnvs). */
export function envFromList(list: readonly string[]): EnvLookup {
  const m = new Map<string, string>();
  for (const e of list) {
    const i = e.indexOf('=');
    const k = i < 0 ? e : e.slice(0, i);
    if (!m.has(k)) m.set(k, i < 0 ? '' : e.slice(i + 1));
  }
  return envFromMap(m);
}

export interface LexOptions {
  /** '\\' or '`' (the `# escape=` directive). */
  escapeToken?: string;
  /** Keep quote characters in the output (the heredoc detector compares with and without). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Leave references to unset variables as written instead of expanding them to "". */
  skipUnsetEnv?: boolean;
  /** Quotes are plain characters (heredoc bodies: only $ and escapes are special). */
  skipProcessQuotes?: boolean;
}

export class ShellLexError extends Error {}

const EOF = '';

class Scanner {
  private i = 0;
  constructor(private readonly cps: string[]) {}
  peek(): string {
    return this.i < this.cps.length ? this.cps[this.i]! : EOF;
  }
  next(): string {
    return this.i < this.cps.length ? this.cps[this.i++]! : EOF;
  }
}

const isSpace = (c: string) => c !== EOF && /^\s$/u.test(c);
const isLetter = (c: string) => c !== EOF && /^\p{L}$/u.test(c);
const isDigit = (c: string) => c !== EOF && /^\p{Nd}$/u.test(c);
/** POSIX special parameters: $@ $* $# $? $- $$ $! $0 (always empty here). */
const isSpecialParam = (c: string) => '@*#?-$!0'.includes(c) && c !== EOF;

/** Collects the words of processWords: unquoted spaces split, quoted text never does. */
class Words {
  words: string[] = [];
  private buf = '';
  private inWord = false;
  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.buf.length) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else this.addRaw(ch);
  }
  addRaw(s: string): void {
    this.buf += s;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  done(): string[] {
    if (this.buf.length) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

export class ShellLex {
  readonly escapeToken: string;
  readonly rawQuotes: boolean;
  readonly rawEscapes: boolean;
  readonly skipUnsetEnv: boolean;
  readonly skipProcessQuotes: boolean;

  constructor(opts: LexOptions = {}) {
    this.escapeToken = opts.escapeToken ?? '\\';
    this.rawQuotes = !!opts.rawQuotes;
    this.rawEscapes = !!opts.rawEscapes;
    this.skipUnsetEnv = !!opts.skipUnsetEnv;
    this.skipProcessQuotes = !!opts.skipProcessQuotes;
  }

  /** Expand one word (quotes removed, spaces kept). Throws ShellLexError. */
  processWord(word: string, env: EnvLookup): string {
    return this.run(word, env).word;
  }

  /** Expand then split into words (EXPOSE, heredoc detection). Throws ShellLexError. */
  processWords(word: string, env: EnvLookup): string[] {
    return this.run(word, env).words;
  }

  private run(source: string, env: EnvLookup): { word: string; words: string[] } {
    const w = new WordRun(this, new Scanner(Array.from(source)), env);
    try {
      return w.processStopOn(EOF, this.rawEscapes);
    } catch (e) {
      if (e instanceof ShellLexError) throw new ShellLexError(`failed to process ${goQuote(source)}: ${e.message}`);
      throw e;
    }
  }
}

class WordRun {
  private rawEscapes: boolean;
  constructor(
    private readonly lex: ShellLex,
    private readonly sc: Scanner,
    private readonly env: EnvLookup,
  ) {
    this.rawEscapes = lex.rawEscapes;
  }

  /** Process until `stop` (consumed) or the end; an unmet `stop` is an error. */
  processStopOn(stop: string, rawEscapes: boolean): { word: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new Words();
      const esc = this.lex.escapeToken;
      while (this.sc.peek() !== EOF) {
        const ch = this.sc.peek();
        if (stop !== EOF && ch === stop) {
          this.sc.next();
          return { word: result, words: words.done() };
        }
        if (ch === '$') {
          const v = this.processDollar();
          result += v;
          words.addString(v); // expanded values are split
        } else if ((ch === "'" || ch === '"') && !this.lex.skipProcessQuotes) {
          const v = ch === "'" ? this.singleQuote() : this.doubleQuote();
          result += v;
          words.addRaw(v); // quoted text is one piece of a word
        } else {
          let c = this.sc.next();
          if (c === esc) {
            if (this.rawEscapes) {
              words.addRaw(c);
              result += c;
            }
            c = this.sc.next(); // escapes the next char; a trailing escape is dropped
            if (c === EOF) break;
            words.addRaw(c);
          } else words.addChar(c);
          result += c;
        }
      }
      if (stop !== EOF) throw new ShellLexError(`unexpected end of statement while looking for matching ${stop}`);
      return { word: result, words: words.done() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private singleQuote(): string {
    // everything up to the next ' is literal; nothing escapes inside single quotes
    let out = '';
    const open = this.sc.next();
    if (this.lex.rawQuotes) out += open;
    for (;;) {
      const c = this.sc.next();
      if (c === EOF) throw new ShellLexError('unexpected end of statement while looking for matching single-quote');
      if (c === "'") {
        if (this.lex.rawQuotes) out += c;
        return out;
      }
      out += c;
    }
  }

  private doubleQuote(): string {
    // $ expands; the escape token escapes only " $ and itself, otherwise stays literal
    let out = '';
    const open = this.sc.next();
    if (this.lex.rawQuotes) out += open;
    const esc = this.lex.escapeToken;
    for (;;) {
      const p = this.sc.peek();
      if (p === EOF) throw new ShellLexError('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        const c = this.sc.next();
        if (this.lex.rawQuotes) out += c;
        return out;
      }
      if (p === '$') {
        out += this.processDollar();
        continue;
      }
      let c = this.sc.next();
      if (c === esc) {
        if (this.rawEscapes) out += c;
        const n = this.sc.peek();
        if (n === EOF) continue; // ignore an escape at the very end
        if (n === '"' || n === '$' || n === esc) c = this.sc.next();
      }
      out += c;
    }
  }

  private getEnv(name: string): string | undefined {
    return this.env.get(name);
  }

  private processName(): string {
    let name = '';
    while (this.sc.peek() !== EOF) {
      const ch = this.sc.peek();
      if (!name && isDigit(ch)) {
        while (isDigit(this.sc.peek())) name += this.sc.next();
        return name;
      }
      if (!name && isSpecialParam(ch)) return this.sc.next();
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.sc.next();
    }
    return name;
  }

  private processDollar(): string {
    this.sc.next(); // '$'
    if (this.sc.peek() !== '{') {
      const name = this.processName();
      if (!name) return '$';
      const v = this.getEnv(name);
      if (v === undefined && this.lex.skipUnsetEnv) return '$' + name;
      return v ?? '';
    }
    this.sc.next(); // '{'
    const first = this.sc.peek();
    if (first === EOF) throw new ShellLexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ShellLexError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.sc.next();
    let chs = ch;
    let nullIsUnset = false;
    if (ch === ':') {
      // ${V:-w} ${V:+w} ${V:?w}: an empty value counts as unset
      nullIsUnset = true;
      ch = this.sc.next();
      chs += ch;
    }
    switch (nullIsUnset ? ch || '\0' : ch) {
      case '}': {
        if (nullIsUnset) throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
        const v = this.getEnv(name);
        if (v === undefined && this.lex.skipUnsetEnv) return `\${${name}}`;
        return v ?? '';
      }
      case '+':
      case '-':
      case '?':
      case '#':
      case '%': {
        const patternOp = ch === '#' || ch === '%';
        if (nullIsUnset && patternOp) throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
        const word = this.stopOnBrace(patternOp);
        const value = this.getEnv(name);
        const set = value !== undefined;
        if (this.lex.skipUnsetEnv && !set) return `\${${name}${chs}${word}}`;
        const empty = !set || (nullIsUnset && value === '');
        switch (ch) {
          case '-':
            return empty ? word : value!;
          case '+':
            return empty ? '' : word;
          case '?':
            if (!set) throw new ShellLexError(`${name}: ${word || 'is not allowed to be unset'}`);
            if (nullIsUnset && value === '') throw new ShellLexError(`${name}: ${word || 'is not allowed to be empty'}`);
            return value!;
          case '%':
          case '#': {
            // one #/% removes the shortest match, a doubled ##/%% the longest
            let pat = word;
            let greedy = false;
            if (pat.startsWith(ch)) {
              greedy = true;
              pat = pat.slice(1);
            }
            return ch === '%' ? trimSuffix(pat, value ?? '', greedy) : trimPrefix(pat, value ?? '', greedy);
          }
          default:
            throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
        }
      }
      case '/': {
        const all = this.sc.peek() === '/';
        if (all) this.sc.next();
        let pattern: string;
        try {
          pattern = this.processStopOn('/', true).word;
        } catch (e) {
          if (this.sc.peek() === EOF) throw new ShellLexError("syntax error: missing '/' in ${}");
          throw e;
        }
        const replacement = this.stopOnBrace(true);
        const value = this.getEnv(name);
        if (this.lex.skipUnsetEnv && value === undefined) return `\${${name}/${pattern}/${replacement}}`;
        const re = shellPatternToRegex(pattern, true, false, all);
        return (value ?? '').replace(re, () => replacement);
      }
      default:
        throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
    }
  }

  private stopOnBrace(rawEscapes: boolean): string {
    try {
      return this.processStopOn('}', rawEscapes).word;
    } catch (e) {
      if (this.sc.peek() === EOF) throw new ShellLexError("syntax error: missing '}'");
      throw e;
    }
  }
}

/**
 * A shell glob (`*` any string, `?` one char, `\` escapes * ? \; no bracket classes, as BuildKit)
 * as a JS regex. `\}` and `\/` lose their backslash: they were only escaping the ${…} syntax.
 */
function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  const cps = Array.from(pattern);
  let out = anchored ? '^' : '';
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    if (c === '*') out += greedy ? '.*' : '.*?';
    else if (c === '?') out += '.';
    else if (c === '\\') {
      const n = cps[i + 1];
      if (n === '}' || n === '/') continue;
      if (n !== '*' && n !== '?' && n !== '\\') throw new ShellLexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? ''}'`);
      out += '\\' + n;
      i++;
    } else out += c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  }
  return new RegExp(out, global ? 'gu' : 'u');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegex(pattern, greedy, true).exec(value);
  return m ? value.slice(m.index + m[0].length) : value;
}

/** Shortest/longest *rightmost* match: reverse pattern and value, then trim a prefix. */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  const rev = reversePattern(pattern);
  const rv = Array.from(value).reverse().join('');
  return Array.from(trimPrefix(rev, rv, greedy)).reverse().join('');
}

/** Reverse a pattern keeping each escape before the char it escapes (a\*c → c\*a). */
function reversePattern(pattern: string): string {
  const cps = Array.from(pattern);
  const out: string[] = new Array(cps.length);
  const last = cps.length - 1;
  for (let i = 0; i <= last; ) {
    const o = last - i;
    if (cps[i] === '\\' && i !== last) {
      out[o - 1] = '\\';
      out[o] = cps[i + 1]!;
      i += 2;
    } else {
      out[o] = cps[i]!;
      i++;
    }
  }
  return out.join('');
}

/** Go's %q / strconv.Quote for messages and the AST dump. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp === 0xfffd && ch !== '\ufffd') out += '\\ufffd';
    else if (!/^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]$/u.test(ch) || (cp !== 0x20 && /^\p{Zs}$/u.test(ch))) {
      out += cp > 0xffff ? '\\U' + cp.toString(16).padStart(8, '0') : '\\u' + cp.toString(16).padStart(4, '0');
    } else out += ch;
  }
  return out + '"';
}
