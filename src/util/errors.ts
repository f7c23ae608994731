/**
 * Typed errors. Every failure a user can see is a TsrunError with a stable
 * code, a one-line message that says what failed on what, and a hint that
 * says what to do. The CLI entry (src/cli/main.ts) is the one place that turns
 * them into output and an exit code; nothing else prints or exits.
 */
import { getSystemErrorMap } from 'node:util';

/**
 * Exit codes follow docker: 125 for a bad flag and for run/create failing
 * before the container starts, 126/127 for a container command that cannot
 * run, 1 for every other failed command (see exitCodeFor).
 */
export const EXIT = {
  OK: 0,
  /** A command failed (no such container, container running, registry error …). */
  FAILURE: 1,
  /** A bad flag, or run/create failed before the container started. */
  RUNTIME: 125,
  /** The container command exists but cannot be executed. */
  CANNOT_EXEC: 126,
  /** The container command was not found. */
  NOT_FOUND: 127,
} as const;

export type ErrorCode =
  | 'USAGE' // bad flag or argument
  | 'NOT_FOUND' // unknown image, container, tag, blob
  | 'AMBIGUOUS' // an ID prefix that matches several things
  | 'CONFLICT' // name already in use, image in use, wrong container state
  | 'INVALID_REFERENCE' // image reference that does not parse
  | 'INVALID_ARCHIVE' // malformed tar, archive, manifest or config
  | 'UNSAFE_PATH' // a path that escapes its root
  | 'DIGEST_MISMATCH' // content whose digest or size is not what its descriptor says
  | 'TOO_LARGE' // a size or count bound was exceeded
  | 'UNSUPPORTED' // a media type, platform or feature tsrun does not handle
  | 'REGISTRY' // a registry answered with an error
  | 'AUTH' // 401/403 from a registry
  | 'NETWORK' // connection refused, DNS failure, reset
  | 'PERMISSION' // not root, read-only store
  | 'SYSCALL' // a system call failed
  | 'EXEC_NOT_FOUND' // container command not found (exit 127)
  | 'EXEC_DENIED' // container command cannot be executed (exit 126)
  | 'BUILD' // a build step failed (its RUN exited non-zero, or the build was interrupted)
  | 'DOCKERFILE' // a Dockerfile (or .dockerignore) that does not parse or is invalid; the message starts with file:line
  | 'INTERNAL';

export class TsrunError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  /** Exit code the CLI uses for this error; docker's 125 unless the error says otherwise (see exitCodeFor). */
  readonly exitCode: number;
  /** The exit code this error asked for, if any: exitCodeFor keeps it whatever the command. */
  readonly explicitExitCode?: number;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; cause?: unknown; exitCode?: number } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'TsrunError';
    this.code = code;
    this.hint = opts.hint;
    this.explicitExitCode = opts.exitCode;
    this.exitCode =
      opts.exitCode ?? (code === 'EXEC_NOT_FOUND' ? EXIT.NOT_FOUND : code === 'EXEC_DENIED' ? EXIT.CANNOT_EXEC : EXIT.RUNTIME);
  }
}

/**
 * docker's exit code for a failure: 125 for flag errors (anything failing
 * while the command line is parsed) and for run/create (before the container
 * starts; 126/127 when its command cannot run, for run and exec); an error's own explicit code;
 * otherwise 1, as docker's CLI exits for any other failed command.
 */
export function exitCodeFor(err: unknown, where: { parsing: boolean; command: string }): number {
  if (isTsrunError(err)) {
    if (err.explicitExitCode !== undefined) return err.explicitExitCode;
    // docker/cli's run and exec turn these into 127/126; start and restart return the daemon's error as it is: 1
    if ((err.code === 'EXEC_NOT_FOUND' || err.code === 'EXEC_DENIED') && (where.command === 'run' || where.command === 'exec')) return err.exitCode;
  }
  if (where.parsing) return EXIT.RUNTIME;
  return where.command === 'run' || where.command === 'create' ? EXIT.RUNTIME : EXIT.FAILURE;
}

export const usageError = (message: string, hint?: string) => new TsrunError('USAGE', message, { hint });
/** A flag value docker's CLI rejects while parsing its flags (exit 125 whatever the command), e.g. build's -t or --label. */
export const flagError = (message: string, hint?: string) => new TsrunError('USAGE', message, { hint, exitCode: EXIT.RUNTIME });
export const notFound = (message: string, hint?: string) => new TsrunError('NOT_FOUND', message, { hint });
export const conflict = (message: string, hint?: string) => new TsrunError('CONFLICT', message, { hint });
export const invalidArchive = (message: string, hint?: string) => new TsrunError('INVALID_ARCHIVE', message, { hint });
export const unsafePath = (message: string) =>
  new TsrunError('UNSAFE_PATH', message, { hint: 'the archive or layer is malformed or hostile; nothing was written' });

/** A Node-style errno error (code, errno, syscall), as node:fs would have thrown it (less the path). */
export function errnoError(errno: number, syscall: string): NodeJS.ErrnoException {
  const [code, text] = getSystemErrorMap().get(-errno) ?? [`E${errno}`, `error ${errno}`];
  const e = new Error(`${code}: ${text}, ${syscall}`) as NodeJS.ErrnoException;
  e.code = code;
  e.errno = -errno;
  e.syscall = syscall;
  return e;
}

/** Wrap a Node system error (ENOENT, EPERM …) with what tsrun was doing. */
export function syscallError(what: string, err: unknown): TsrunError {
  const e = err as NodeJS.ErrnoException;
  const detail = e && e.code ? `${e.code}${e.message ? `: ${e.message.replace(/^\w+: /, '')}` : ''}` : String(err);
  const hint = e?.code === 'EPERM' || e?.code === 'EACCES' ? 'tsrun needs to run as root' : undefined;
  return new TsrunError(e?.code === 'EPERM' || e?.code === 'EACCES' ? 'PERMISSION' : 'SYSCALL', `${what}: ${detail}`, {
    hint,
    cause: err,
  });
}

export function isTsrunError(err: unknown): err is TsrunError {
  return err instanceof TsrunError;
}

/** True for Node errors with the given errno code (ENOENT, EEXIST …). */
export function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}
