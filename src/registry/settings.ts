/**
 * Registry settings: where to reach a registry and over which scheme.
 *
 * File: /etc/tsrun/registries.json (env TSRUN_REGISTRIES_CONF overrides the path):
 *   {
 *     "mirrors":  { "docker.io": ["http://127.0.0.1:5000", "https://mirror.example"] },
 *     "insecure": ["myhost:5000"]
 *   }
 * - mirrors: tried in order for pulls of that registry, then the registry itself.
 * - insecure: registries spoken to over plain http.
 * localhost, 127.0.0.0/8 and ::1 are plain http by default, as docker does.
 * docker.io's API host is registry-1.docker.io.
 */
import fs from 'node:fs';
import { TsrunError, hasCode } from '../util/errors.js';

export const DEFAULT_SETTINGS_FILE = '/etc/tsrun/registries.json';

export interface RegistrySettings {
  mirrors: Record<string, string[]>;
  insecure: string[];
}

/** One place to send requests for a registry: a base URL like https://registry-1.docker.io */
export interface Endpoint {
  /** scheme://host[:port], no trailing slash */
  base: string;
  /** True for a mirror (errors fall through to the next endpoint). */
  mirror: boolean;
}

export function settingsFile(): string {
  return process.env.TSRUN_REGISTRIES_CONF || DEFAULT_SETTINGS_FILE;
}

export function loadSettings(file = settingsFile()): RegistrySettings {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return { mirrors: {}, insecure: [] };
    throw new TsrunError('SYSCALL', `cannot read registry settings ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new TsrunError('USAGE', `registry settings ${file} are not valid JSON`, { hint: 'see the format in docs: { "mirrors": {…}, "insecure": […] }' });
  }
  const o = (raw ?? {}) as { mirrors?: unknown; insecure?: unknown };
  const mirrors: Record<string, string[]> = {};
  if (o.mirrors !== undefined) {
    if (typeof o.mirrors !== 'object' || o.mirrors === null || Array.isArray(o.mirrors)) throw badSettings(file, '"mirrors" must be an object');
    for (const [reg, list] of Object.entries(o.mirrors as Record<string, unknown>)) {
      if (!Array.isArray(list) || !list.every((u) => typeof u === 'string' && /^https?:\/\/[^/]+/.test(u))) {
        throw badSettings(file, `mirrors of ${reg} must be a list of http(s) URLs`);
      }
      mirrors[reg] = (list as string[]).map((u) => u.replace(/\/+$/, ''));
    }
  }
  let insecure: string[] = [];
  if (o.insecure !== undefined) {
    if (!Array.isArray(o.insecure) || !o.insecure.every((h) => typeof h === 'string')) throw badSettings(file, '"insecure" must be a list of host[:port]');
    insecure = o.insecure as string[];
  }
  return { mirrors, insecure };
}

function badSettings(file: string, why: string): TsrunError {
  return new TsrunError('USAGE', `registry settings ${file}: ${why}`, { hint: 'fix or remove the file' });
}

/** docker.io's API lives on registry-1.docker.io. */
export function apiHost(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
}

function hostOnly(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const i = hostPort.lastIndexOf(':');
  return i > 0 && /^\d+$/.test(hostPort.slice(i + 1)) ? hostPort.slice(0, i) : hostPort;
}

/** localhost, 127.0.0.0/8 and ::1 speak plain http by default (like docker). */
export function isLoopback(hostPort: string): boolean {
  const h = hostOnly(hostPort);
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export function schemeFor(registry: string, s: RegistrySettings): 'http' | 'https' {
  if (isLoopback(registry)) return 'http';
  if (s.insecure.includes(registry) || s.insecure.includes(hostOnly(registry))) return 'http';
  return 'https';
}

/** The registry's own endpoint. */
export function registryEndpoint(registry: string, s: RegistrySettings): Endpoint {
  return { base: `${schemeFor(registry, s)}://${apiHost(registry)}`, mirror: false };
}

/** Endpoints to try for a pull: mirrors first, then the registry. */
export function pullEndpoints(registry: string, s: RegistrySettings): Endpoint[] {
  const mirrors = (s.mirrors[registry] ?? []).map((base) => ({ base, mirror: true }));
  return [...mirrors, registryEndpoint(registry, s)];
}
