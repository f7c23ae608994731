/**
 * `--change` lines (Dockerfile instructions) applied to an image config, as
 * `docker import -c` and `docker commit -c` do. Supported: CMD, ENTRYPOINT,
 * ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, ONBUILD, HEALTHCHECK,
 * in JSON form (["a","b"]) and shell form (wrapped in /bin/sh -c).
 * Pure: no I/O.
 */
import path from 'node:path';
import { TsrunError } from '../util/errors.js';
import type { HealthConfig, ImageRunConfig } from '../oci/types.js';

const bad = (line: string, why: string) =>
  new TsrunError('USAGE', `invalid --change ${JSON.stringify(line)}: ${why}`, {
    hint: 'use a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, ONBUILD or HEALTHCHECK',
  });

/** ["a","b"] when the text is a JSON array of strings, else undefined (shell form). */
function jsonForm(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* not JSON: docker treats it as shell form */
  }
  return undefined;
}

function execForm(rest: string): string[] {
  return jsonForm(rest) ?? ['/bin/sh', '-c', rest.trim()];
}

/** Split words the way the Dockerfile parser does for ENV/LABEL: quotes group, backslash escapes. */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new TsrunError('USAGE', `unterminated quote in ${JSON.stringify(s)}`);
  if (inWord) words.push(cur);
  return words;
}

/** ENV/LABEL arguments: `k=v k2="v 2"`, or the legacy `k v with spaces` (one pair). */
export function parseKeyValues(rest: string, line: string, legacy: boolean): [string, string][] {
  const t = rest.trim();
  if (!t) throw bad(line, 'missing arguments');
  const firstWord = /^\S+/.exec(t)![0];
  if (legacy && !firstWord.includes('=')) {
    const value = t.slice(firstWord.length).trim();
    return [[firstWord, splitWords(value).join(' ') || value]];
  }
  return splitWords(t).map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw bad(line, `${JSON.stringify(w)} is not KEY=VALUE`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

const NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

function parseDuration(v: string, line: string): number {
  let total = 0;
  let rest = v;
  if (!rest) throw bad(line, `invalid duration ${JSON.stringify(v)}`);
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/.exec(rest); // \u00b5: µ, as the bundle must be ASCII
    if (!m) throw bad(line, `invalid duration ${JSON.stringify(v)}`);
    total += Number(m[1]) * NS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

function parseHealthcheck(rest: string, line: string): HealthConfig {
  let t = rest.trim();
  if (/^NONE$/i.test(t)) return { Test: ['NONE'] };
  const hc: HealthConfig = {};
  for (;;) {
    const m = /^--([a-z-]+)=(\S+)\s*/.exec(t);
    if (!m) break;
    t = t.slice(m[0].length);
    const [, flag, value] = m;
    if (flag === 'interval') hc.Interval = parseDuration(value!, line);
    else if (flag === 'timeout') hc.Timeout = parseDuration(value!, line);
    else if (flag === 'start-period') hc.StartPeriod = parseDuration(value!, line);
    else if (flag === 'retries') {
      if (!/^\d+$/.test(value!)) throw bad(line, `invalid --retries ${value}`);
      hc.Retries = Number(value);
    } else throw bad(line, `unknown HEALTHCHECK flag --${flag}`);
  }
  const cm = /^CMD\s+([\s\S]+)$/i.exec(t);
  if (!cm) throw bad(line, 'HEALTHCHECK needs CMD or NONE');
  const json = jsonForm(cm[1]!);
  hc.Test = json ? ['CMD', ...json] : ['CMD-SHELL', cm[1]!.trim()];
  return hc;
}

/** Apply one --change line to `cfg` (mutated and returned). */
export function applyChange(cfg: ImageRunConfig, line: string): ImageRunConfig {
  const m = /^\s*([A-Za-z]+)(?:\s+([\s\S]*))?$/.exec(line);
  if (!m) throw bad(line, 'not a Dockerfile instruction');
  const instr = m[1]!.toUpperCase();
  const rest = (m[2] ?? '').trim();
  const need = () => {
    if (!rest) throw bad(line, `${instr} needs an argument`);
  };
  switch (instr) {
    case 'CMD':
      need();
      cfg.Cmd = execForm(rest);
      break;
    case 'ENTRYPOINT':
      need();
      cfg.Entrypoint = execForm(rest);
      break;
    case 'ENV': {
      const env = [...(cfg.Env ?? [])];
      for (const [k, v] of parseKeyValues(rest, line, true)) {
        const i = env.findIndex((e) => e.split('=')[0] === k);
        if (i >= 0) env[i] = `${k}=${v}`;
        else env.push(`${k}=${v}`);
      }
      cfg.Env = env;
      break;
    }
    case 'LABEL':
      cfg.Labels = { ...(cfg.Labels ?? {}) };
      for (const [k, v] of parseKeyValues(rest, line, true)) cfg.Labels[k] = v;
      break;
    case 'EXPOSE': {
      need();
      cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
      for (const p of rest.split(/\s+/)) {
        const pm = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
        if (!pm) throw bad(line, `invalid port ${JSON.stringify(p)}`);
        const proto = (pm[3] ?? 'tcp').toLowerCase();
        const lo = Number(pm[1]);
        const hi = pm[2] ? Number(pm[2]) : lo;
        if (lo < 1 || hi > 65535 || hi < lo) throw bad(line, `invalid port ${JSON.stringify(p)}`);
        for (let port = lo; port <= hi; port++) cfg.ExposedPorts[`${port}/${proto}`] = {};
      }
      break;
    }
    case 'USER':
      need();
      cfg.User = rest;
      break;
    case 'VOLUME': {
      need();
      const vols = jsonForm(rest) ?? rest.split(/\s+/);
      cfg.Volumes = { ...(cfg.Volumes ?? {}) };
      for (const v of vols) {
        if (!v) throw bad(line, 'empty volume path');
        cfg.Volumes[v] = {};
      }
      break;
    }
    case 'WORKDIR':
      need();
      cfg.WorkingDir = path.posix.resolve(cfg.WorkingDir || '/', rest);
      break;
    case 'STOPSIGNAL':
      need();
      if (!/^(SIG)?[A-Z0-9+-]+$|^\d+$/i.test(rest)) throw bad(line, `invalid signal ${JSON.stringify(rest)}`);
      cfg.StopSignal = rest;
      break;
    case 'ONBUILD': {
      need();
      const inner = /^\S+/.exec(rest)![0].toUpperCase();
      if (inner === 'ONBUILD' || inner === 'FROM' || inner === 'MAINTAINER') throw bad(line, `${inner} is not allowed in ONBUILD`);
      cfg.OnBuild = [...(cfg.OnBuild ?? []), rest];
      break;
    }
    case 'HEALTHCHECK':
      need();
      cfg.Healthcheck = parseHealthcheck(rest, line);
      break;
    default:
      throw bad(line, `${instr} is not supported by --change`);
  }
  return cfg;
}

export function applyChanges(cfg: ImageRunConfig, lines: readonly string[]): ImageRunConfig {
  for (const l of lines) applyChange(cfg, l);
  return cfg;
}
