/**
 * .dockerignore matching with moby/patternmatcher's semantics (the matcher docker, BuildKit,
 * buildah and kaniko share): Go filepath.Match globs (`*` and `?` never cross `/`, `[a-z]`
 * classes with `^`, `\` escapes) plus `**` for any number of path segments; a pattern that
 * matches a directory matches everything below it; `!pattern` re-includes; the last matching
 * line wins. Pure, no I/O. Paths are slash-separated and relative to the context root.
 */
import { LineError } from './errors.js';

/** Go's path.Clean for slash paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = out.join('/');
  return rooted ? '/' + s : s || '.';
}

/** Go's path.Dir. */
function dirOf(p: string): string {
  const i = p.lastIndexOf('/');
  return cleanPath(i < 0 ? '' : p.slice(0, i + 1));
}

/** The syntax check Go's filepath.Match applies: a bad class or a trailing `\` is ErrBadPattern. */
export function checkGlobSyntax(pattern: string): void {
  const bad = () => new LineError(`syntax error in pattern ${JSON.stringify(pattern)}`, 'fix the pattern: [classes] must be closed and a \\ must escape something');
  const cps = Array.from(pattern);
  let i = 0;
  const getEsc = (): string => {
    const c = cps[i];
    if (c === undefined || c === '-' || c === ']') throw bad();
    i++;
    if (c === '\\') {
      const n = cps[i];
      if (n === undefined) throw bad();
      i++;
      return n;
    }
    return c;
  };
  while (i < cps.length) {
    const c = cps[i++]!;
    if (c === '\\') {
      if (i >= cps.length) throw bad();
      i++;
    } else if (c === '[') {
      if (cps[i] === '^') i++;
      let nrange = 0;
      for (;;) {
        if (cps[i] === ']' && nrange > 0) {
          i++;
          break;
        }
        const lo = getEsc();
        let hi = lo;
        if (cps[i] === '-') {
          i++;
          hi = getEsc();
        }
        if (hi.codePointAt(0)! < lo.codePointAt(0)!) throw bad();
        nrange++;
      }
    }
  }
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

const ESCAPED = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

export class Pattern {
  readonly exclusion: boolean;
  /** The cleaned pattern without its `!`. */
  readonly cleaned: string;
  private type: MatchType = 'exact';
  private regexp?: RegExp;

  constructor(raw: string) {
    let p = cleanPath(raw.trim());
    this.exclusion = p.startsWith('!');
    if (this.exclusion) {
      if (p.length === 1) throw new LineError('illegal exclusion pattern: "!"', 'a ! must be followed by a pattern to re-include');
      p = p.slice(1);
    }
    checkGlobSyntax(p);
    this.cleaned = p;
    this.compile();
  }

  private compile(): void {
    let re = '^';
    let type: MatchType = 'exact';
    const cps = Array.from(this.cleaned);
    for (let i = 0, n = 0; i < cps.length; i++, n++) {
      const ch = cps[i]!;
      if (ch === '*') {
        if (cps[i + 1] === '*') {
          i++;
          if (cps[i + 1] === '/') i++; // "**/" is "**"
          if (i + 1 >= cps.length) {
            // trailing "**" matches everything below, like .gitignore
            if (type === 'exact') type = 'prefix';
            else {
              re += '.*';
              type = 'regexp';
            }
          } else {
            re += '(.*/)?'; // any number of segments, even none
            type = 'regexp';
          }
          if (n === 0) type = 'suffix';
        } else {
          re += '[^/]*';
          type = 'regexp';
        }
      } else if (ch === '?') {
        re += '[^/]';
        type = 'regexp';
      } else if (ESCAPED.has(ch)) {
        re += '\\' + ch;
      } else if (ch === '\\') {
        if (i + 1 < cps.length) {
          const next = cps[++i]!;
          // an escaped letter or digit is that char literally (Go's filepath.Match), not a regexp class
          re += /[A-Za-z0-9]/.test(next) ? next : '\\' + next;
          type = 'regexp';
        } else re += '\\\\';
      } else if (ch === '[' || ch === ']') {
        re += ch;
        type = 'regexp';
      } else re += ch;
    }
    this.type = type;
    if (type === 'regexp') this.regexp = new RegExp(re + '$');
  }

  matches(path: string): boolean {
    switch (this.type) {
      case 'exact':
        return path === this.cleaned;
      case 'prefix':
        return path.startsWith(this.cleaned.slice(0, -2));
      case 'suffix': {
        const suffix = this.cleaned.slice(2);
        if (path.endsWith(suffix)) return true;
        return suffix.startsWith('/') && path === suffix.slice(1); // "**/foo" matches "foo"
      }
      case 'regexp':
        return this.regexp!.test(path);
    }
  }
}

export class PatternMatcher {
  readonly patterns: Pattern[];
  /** True when some line re-includes (`!`): a walker must then look inside excluded directories. */
  readonly hasExclusions: boolean;

  /** Throws LineError for a bad pattern (a lone `!`, an unclosed `[`, a trailing `\`). */
  constructor(lines: readonly string[]) {
    this.patterns = lines.filter((l) => l.trim() !== '').map((l) => new Pattern(l));
    this.hasExclusions = this.patterns.some((p) => p.exclusion);
  }

  /** Is the path (or one of its parent directories) excluded? The last matching line decides. */
  excludes(path: string): boolean {
    if (!this.patterns.length) return false; // no .dockerignore: nothing to split for each of the context's files
    let matched = false;
    const parent = dirOf(path);
    const parentDirs = parent.split('/');
    for (const p of this.patterns) {
      // an inclusion cannot change an already excluded path, nor an exclusion an included one
      if (p.exclusion !== matched) continue;
      let m = p.matches(path);
      if (!m && parent !== '.') {
        for (let i = 0; i < parentDirs.length && !m; i++) m = p.matches(parentDirs.slice(0, i + 1).join('/'));
      }
      if (m) matched = !p.exclusion;
    }
    return matched;
  }
}

/** patternmatcher.MatchesOrParentMatches (the package function): path cleaned, "." never excluded. */
export function matchesOrParentMatches(path: string, lines: readonly string[]): boolean {
  const pm = new PatternMatcher(lines);
  const clean = cleanPath(path);
  if (clean === '.') return false;
  return pm.excludes(clean);
}
