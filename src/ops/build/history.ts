/**
 * docker's image history `created_by` strings, exactly as BuildKit's dockerfile frontend
 * writes them (dockerfile2llb commitToHistory): steps that run or copy end in " # buildkit",
 * metadata steps are Go-formatted (`CMD ["/bin/sh" "-c" "x"]`, `VOLUME [/a /b]`,
 * `EXPOSE map[80/tcp:{}]`, `HEALTHCHECK &{["CMD-SHELL" "x"] "30s" "0s" "0s" "0s" '\x03'}`).
 * The inputs are the instruction's expanded values. Pure.
 */
import { formatGoDuration, goList, goQuote, goQuoteList, goQuoteRune } from './go-format.js';
import type { KeyValue } from './instruction-types.js';

const BUILDKIT = ' # buildkit';

/** `RUN [|N k=v …] argv… # buildkit`: argv is the shell plus the command for the shell form. */
export function runCreatedBy(argv: readonly string[], historyArgs: readonly string[]): string {
  const prefix = historyArgs.length ? [`|${historyArgs.length}`, ...historyArgs] : [];
  return 'RUN ' + [...prefix, ...argv].join(' ') + BUILDKIT;
}

/** `COPY [--parents] [--chown=…] [--chmod=…] src… [<<heredoc…] dest # buildkit` (ADD likewise). */
export function copyCreatedBy(
  kind: 'COPY' | 'ADD',
  o: { parents?: boolean; chown?: string; chmod?: string; sources: readonly string[]; heredocs: readonly string[]; dest: string },
): string {
  let s = kind;
  if (o.parents) s += ' --parents';
  if (o.chown) s += ' --chown=' + o.chown;
  if (o.chmod) s += ' --chmod=' + o.chmod;
  for (const src of o.sources) s += ' ' + src;
  for (const h of o.heredocs) s += ' <<' + h;
  return s + ' ' + o.dest + BUILDKIT;
}

export const workdirCreatedBy = (normalized: string) => 'WORKDIR ' + normalized;
export const envCreatedBy = (pairs: readonly KeyValue[]) => 'ENV ' + pairs.map((p) => `${p.key}=${p.value}`).join(' ');
export const labelCreatedBy = (pairs: readonly KeyValue[]) => 'LABEL ' + pairs.map((p) => `${p.key}=${p.value}`).join(' ');
export const argCreatedBy = (args: readonly { key: string; value?: string }[]) =>
  'ARG ' + args.map((a) => (a.value === undefined ? a.key : `${a.key}=${a.value}`)).join(' ');
export const cmdCreatedBy = (argv: readonly string[]) => 'CMD ' + goQuoteList(argv);
export const entrypointCreatedBy = (argv: readonly string[]) => 'ENTRYPOINT ' + goQuoteList(argv);
export const shellCreatedBy = (shell: readonly string[]) => 'SHELL ' + goList(shell);
export const volumeCreatedBy = (volumes: readonly string[]) => 'VOLUME ' + goList(volumes);
export const userCreatedBy = (user: string) => 'USER ' + user;
export const stopSignalCreatedBy = (signal: string) => 'STOPSIGNAL ' + signal;
export const maintainerCreatedBy = (m: string) => 'MAINTAINER ' + m;
/** EXPOSE prints Go's map of port specs: keys sorted, `map[443/tcp:{} 80/tcp:{}]`. */
export const exposeCreatedBy = (ports: readonly string[]) => 'EXPOSE map[' + [...new Set(ports)].sort().map((p) => p + ':{}').join(' ') + ']';

export interface HealthcheckValues {
  test: readonly string[];
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

/** fmt %q of the HealthcheckConfig pointer: each field quoted, the int retries as a quoted rune. */
export function healthcheckCreatedBy(h: HealthcheckValues): string {
  const d = (ns: number) => goQuote(formatGoDuration(ns));
  return `HEALTHCHECK &{${goQuoteList(h.test)} ${d(h.interval)} ${d(h.timeout)} ${d(h.startPeriod)} ${d(h.startInterval)} ${goQuoteRune(h.retries)}}`;
}
