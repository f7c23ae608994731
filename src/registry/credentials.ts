/**
 * Credentials in docker's config.json format, so `docker login` and
 * `tsrun login` share them: $DOCKER_CONFIG/config.json or ~/.docker/config.json,
 *   { "auths": { "HOST[:PORT]": { "auth": base64("user:pass") } }, …other keys kept… }
 * docker.io is stored under "https://index.docker.io/v1/" as docker does.
 * Credential helpers (credsStore / credHelpers) are not supported yet: a
 * registry that is configured for one gets a clear error instead of silence.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TsrunError, hasCode } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { withLockSync } from '../util/lock.js';

export interface Credentials {
  username: string;
  password: string;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

export function configFile(): string {
  const dir = process.env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

/** The key a registry is stored under in `auths`. */
export function authKey(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' || registry === 'registry-1.docker.io' ? DOCKER_HUB_KEY : registry;
}

/** Normalise a key as docker does when looking up: drop scheme and path. */
function keyHost(key: string): string {
  const k = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return k === 'index.docker.io' || k === 'registry-1.docker.io' ? 'docker.io' : k;
}

function readConfig(file: string): DockerConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return {};
    throw new TsrunError('SYSCALL', `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as DockerConfig;
  } catch {
    throw new TsrunError('USAGE', `${file} is not valid JSON`, { hint: 'fix or remove it, then run `tsrun login` again' });
  }
}

/** Stored credentials for a registry, or undefined for anonymous access. */
export function getCredentials(registry: string, file = configFile()): Credentials | undefined {
  const cfg = readConfig(file);
  const host = keyHost(authKey(registry));
  if (cfg.credHelpers?.[host] || cfg.credHelpers?.[registry]) {
    throw new TsrunError('UNSUPPORTED', `credential helpers are not supported yet (${file} sets credHelpers for ${registry})`, {
      hint: `remove the credHelpers entry and run \`tsrun login ${registry}\``,
    });
  }
  for (const [key, entry] of Object.entries(cfg.auths ?? {})) {
    if (keyHost(key) !== host) continue;
    if (entry.auth) {
      const text = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = text.indexOf(':');
      if (i < 0) throw new TsrunError('USAGE', `the stored credentials for ${registry} in ${file} are malformed`, { hint: `run \`tsrun login ${registry}\`` });
      return { username: text.slice(0, i), password: text.slice(i + 1) };
    }
    if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
  }
  if (cfg.credsStore) {
    // an empty auths entry with a credsStore means the secret is in the helper
    if (Object.keys(cfg.auths ?? {}).some((k) => keyHost(k) === host)) {
      throw new TsrunError('UNSUPPORTED', `credential helpers are not supported yet (${file} sets credsStore "${cfg.credsStore}")`, {
        hint: `remove credsStore and run \`tsrun login ${registry}\``,
      });
    }
  }
  return undefined;
}

function update(file: string, fn: (cfg: DockerConfig) => boolean): boolean {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  return withLockSync(`${file}.lock`, () => {
    const cfg = readConfig(file);
    const changed = fn(cfg);
    if (changed) writeFileAtomic(file, JSON.stringify(cfg, null, '\t') + '\n', 0o600);
    return changed;
  });
}

export function storeCredentials(registry: string, creds: Credentials, file = configFile()): void {
  update(file, (cfg) => {
    cfg.auths ??= {};
    const host = keyHost(authKey(registry));
    for (const k of Object.keys(cfg.auths)) if (keyHost(k) === host && k !== authKey(registry)) delete cfg.auths[k];
    cfg.auths[authKey(registry)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
    return true;
  });
}

/** Remove stored credentials; false when there were none. */
export function removeCredentials(registry: string, file = configFile()): boolean {
  if (!fs.existsSync(file)) return false;
  return update(file, (cfg) => {
    const host = keyHost(authKey(registry));
    let found = false;
    for (const k of Object.keys(cfg.auths ?? {})) {
      if (keyHost(k) === host) {
        delete cfg.auths![k];
        found = true;
      }
    }
    return found;
  });
}
