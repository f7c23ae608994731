/**
 * Checks and normal forms for values that end up in the image config: EXPOSE port specs
 * (docker's nat.ParsePortSpecs), STOPSIGNAL names, WORKDIR and COPY destinations relative to
 * the working directory, --chmod. Errors are LineErrors (the caller adds file:line). Pure.
 */
import { LineError } from './errors.js';
import { cleanPath } from './pattern-matcher.js';

/** "80" → ["80/tcp"], "8000-8002/udp" → three specs; refuses what docker refuses. */
export function portSpecs(spec: string): string[] {
  const m = /^(?:(?:[^:]*:)?[^:]*:)?(\d+)(?:-(\d+))?(?:\/([A-Za-z]+))?$/.exec(spec);
  if (!m) throw new LineError(`invalid containerPort: ${spec}`, 'EXPOSE takes PORT[/PROTO] or START-END[/PROTO]');
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new LineError(`invalid proto: ${m[3]}`, 'use tcp, udp or sctp');
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535) throw new LineError(`invalid containerPort: ${spec}`);
  if (end < start) throw new LineError(`invalid range specified for container port: ${spec}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

const SIGNALS = [
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR',
  'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ',
];

/** STOPSIGNAL: a number 1-64, a name (SIGTERM, TERM) or RTMIN+n / RTMAX-n, as docker's signal.ParseSignal. */
export function checkSignal(sig: string): void {
  if (/^\d+$/.test(sig)) {
    const n = Number(sig);
    if (n >= 1 && n <= 64) return;
  } else {
    const name = sig.toUpperCase().replace(/^SIG/, '');
    if (SIGNALS.includes(name) || /^RTMIN(\+([1-9]|1[0-5]))?$/.test(name) || /^RTMAX(-([1-9]|1[0-4]))?$/.test(name)) return;
  }
  throw new LineError(`Invalid signal: ${sig}`, 'use a signal name like SIGTERM or a number');
}

/** WORKDIR: relative paths join the current one; the result is clean and absolute. */
export function normalizeWorkdir(current: string | undefined, requested: string): string {
  const joined = requested.startsWith('/') ? requested : (current || '/') + '/' + requested;
  return cleanPath('/' + joined);
}

/** A COPY/ADD destination made absolute against the working directory; a trailing "/" (a directory) is kept. */
export function resolveDest(workdir: string | undefined, dest: string): string {
  let p = dest === '.' || dest === '' ? './' : dest;
  const keepSlash = p.endsWith('/') || p.endsWith('/.');
  p = p.startsWith('/') ? cleanPath(p) : cleanPath((workdir || '/') + '/' + p);
  if (!p.startsWith('/')) p = '/' + p;
  return keepSlash && p !== '/' ? p + '/' : p;
}

/** --chmod: an octal mode up to 07777 (symbolic modes are a labs feature tsrun does not take). */
export function parseChmod(chmod: string): number {
  if (!/^[0-7]+$/.test(chmod) || parseInt(chmod, 8) > 0o7777) {
    throw new LineError(`invalid chmod parameter: '${chmod}'. it should be octal string and between 0 and 07777`);
  }
  return parseInt(chmod, 8);
}
