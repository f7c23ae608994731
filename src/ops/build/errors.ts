/**
 * Dockerfile errors: one line that starts with `FILE:LINE:` so the user can jump to it
 * (BuildKit says "dockerfile parse error on line N"; a file:line prefix is what editors read).
 */
import { TsrunError } from '../../util/errors.js';

export interface Location {
  /** 1-based first line of the instruction (continuations and heredoc bodies included in the range). */
  startLine: number;
  endLine: number;
}

export function dockerfileError(file: string, line: number, message: string, hint?: string): TsrunError {
  const where = line > 0 ? `${file}:${line}` : file;
  return new TsrunError('DOCKERFILE', `${where}: ${message}`, {
    hint: hint ?? 'fix the Dockerfile at that line; nothing was built',
  });
}

/** An error raised by a pure helper that does not know the file; the caller adds file:line. */
export class LineError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Run `fn`; turn a LineError (or a lexer error) into a DOCKERFILE error at `file:line`. */
export function atLine<T>(file: string, line: number, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TsrunError) throw e;
    if (e instanceof Error) throw dockerfileError(file, line, e.message, (e as LineError).hint);
    throw e;
  }
}

/** atLine for async work: a failure inside names the Dockerfile line. */
export async function atLineAsync<T>(file: string, line: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof LineError) throw dockerfileError(file, line, e.message, e.hint);
    if (e instanceof TsrunError) throw new TsrunError(e.code, `${file}:${line}: ${e.message}`, { hint: e.hint, exitCode: e.explicitExitCode });
    throw e;
  }
}
