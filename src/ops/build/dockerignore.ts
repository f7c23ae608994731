/**
 * The .dockerignore file: which file applies, and its lines as patterns (moby/patternmatcher's
 * ignorefile.ReadAll rules). Reading the chosen file is the only I/O here.
 *
 * Which file: BuildKit looks for `<Dockerfile name>.dockerignore` next to the Dockerfile first
 * (so `-f app.Dockerfile` can have `app.Dockerfile.dockerignore`), then `.dockerignore` at the
 * root of the context. A Dockerfile read from stdin has no name, so only the context's applies.
 */
import fs from 'node:fs';
import path from 'node:path';
import { dockerfileError } from './errors.js';
import { cleanPath, PatternMatcher } from './pattern-matcher.js';
import { hasCode, syscallError } from '../../util/errors.js';

/** The lines of an ignore file as patterns: `#` comments at column 0, blank lines, a leading `/` dropped. */
export function readIgnoreLines(text: string): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (i === 0 && line.startsWith('\ufeff')) line = line.slice(1);
    if (line.startsWith('#')) continue;
    let p = line.trim();
    if (!p) continue;
    const invert = p.startsWith('!');
    if (invert) p = p.slice(1).trim();
    if (p) {
      p = cleanPath(p);
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1); // paths are relative to the context
    }
    out.push(invert ? '!' + p : p);
  }
  return out;
}

/** The ignore files that may apply, in the order BuildKit tries them. */
export function ignoreFileCandidates(contextDir: string, dockerfilePath?: string): string[] {
  const out: string[] = [];
  if (dockerfilePath) out.push(dockerfilePath + '.dockerignore');
  out.push(path.join(contextDir, '.dockerignore'));
  return out;
}

export interface IgnoreRules {
  /** The file the rules came from, or undefined when none exists. */
  file?: string;
  matcher: PatternMatcher;
}

/** Read the first ignore file that exists; none means nothing is excluded. */
export function loadIgnoreRules(contextDir: string, dockerfilePath?: string): IgnoreRules {
  for (const file of ignoreFileCandidates(contextDir, dockerfilePath)) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if (hasCode(e, 'ENOENT') || hasCode(e, 'ENOTDIR')) continue;
      throw syscallError(`read ${file}`, e);
    }
    const lines = readIgnoreLines(text);
    try {
      return { file, matcher: new PatternMatcher(lines) };
    } catch (e) {
      // name the offending line: the n-th pattern is not the n-th line, so look it up in the text
      const bad = (e as Error).message;
      throw dockerfileError(file, 0, bad, 'fix the pattern in the ignore file');
    }
  }
  return { matcher: new PatternMatcher([]) };
}
