/**
 * Credentials in docker's config.json format, so `docker login` and
 * `tsrun login` share them: $DOCKER_CONFIG/config.json or ~/.docker/config.json,
 *   { "auths": { "HOST[:PORT]": { "auth": base64("user:pass") } }, …other keys kept… }
 * docker.io is stored under "https://index.docker.io/v1/" as docker does.
 * A registry named in `credHelpers` (by host name), or any registry when
 * `credsStore` is set, keeps its secret in a credential helper instead
 * (cred-helper.ts), as docker's CLI does: config.json then holds only an empty
 * `auths` entry saying that the helper has something for it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TsrunError, hasCode } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { withLockSync } from '../util/lock.js';
import { helperErase, helperGet, helperStore } from './cred-helper.js';

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

/** The credential helper for a registry: its credHelpers entry, else credsStore, else none (docker's order). */
function helperFor(cfg: DockerConfig, registry: string): string | undefined {
  const host = keyHost(authKey(registry));
  return cfg.credHelpers?.[host] || cfg.credHelpers?.[registry] || cfg.credsStore || undefined;
}

/** The credentials stored in config.json itself (auths), if any. */
function fileCredentials(cfg: DockerConfig, registry: string, file: string): Credentials | undefined {
  const host = keyHost(authKey(registry));
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
  return undefined;
}

/** Stored credentials for a registry, or undefined for anonymous access. */
export function getCredentials(registry: string, file = configFile()): Credentials | undefined {
  const cfg = readConfig(file);
  const helper = helperFor(cfg, registry);
  // the helper's answer wins; "not found" there falls back to config.json's own entry, as docker's native store
  if (helper) return helperGet(helper, authKey(registry)) ?? fileCredentials(cfg, registry, file);
  return fileCredentials(cfg, registry, file);
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
  const helper = helperFor(readConfig(file), registry);
  if (helper) helperStore(helper, authKey(registry), creds);
  update(file, (cfg) => {
    cfg.auths ??= {};
    const host = keyHost(authKey(registry));
    for (const k of Object.keys(cfg.auths)) if (keyHost(k) === host && k !== authKey(registry)) delete cfg.auths[k];
    // with a helper, an empty entry: the secret is in the helper (docker's native store does the same)
    cfg.auths[authKey(registry)] = helper ? {} : { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
    return true;
  });
}

/** Remove stored credentials; false when there were none. */
export function removeCredentials(registry: string, file = configFile()): boolean {
  const cfg0 = readConfig(file);
  const helper = helperFor(cfg0, registry);
  const erased = helper ? helperErase(helper, authKey(registry)) : false;
  if (!fs.existsSync(file)) return erased;
  const removed = update(file, (cfg) => {
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
  return erased || removed;
}
