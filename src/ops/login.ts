/**
 * `tsrun login` / `tsrun logout`: check credentials against the registry
 * (GET /v2/ answering its Basic or Bearer challenge with them) and only then
 * store them in docker's config.json; logout removes them.
 */
import { TsrunError } from '../util/errors.js';
import { DEFAULT_REGISTRY } from '../oci/reference.js';
import { Authorizer } from '../registry/auth.js';
import { RegistryClient } from '../registry/client.js';
import { configFile, removeCredentials, storeCredentials, type Credentials } from '../registry/credentials.js';
import { loadSettings, registryEndpoint } from '../registry/settings.js';

/** "https://index.docker.io/v1/", "docker.io", "http://h:5000/x" → docker.io, h:5000 */
export function normaliseRegistry(input: string | undefined): string {
  if (!input) return DEFAULT_REGISTRY;
  const host = input.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (!host || !/^[a-zA-Z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:.]+\](:\d+)?$/.test(host)) {
    throw new TsrunError('USAGE', `invalid registry ${JSON.stringify(input)}`, { hint: 'give a host[:port], e.g. localhost:5000' });
  }
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') return DEFAULT_REGISTRY;
  return host.toLowerCase();
}

export async function login(registryInput: string | undefined, creds: Credentials): Promise<{ registry: string; file: string }> {
  const registry = normaliseRegistry(registryInput);
  if (!creds.username) throw new TsrunError('USAGE', 'a username is needed', { hint: 'use -u USER' });
  if (!creds.password) throw new TsrunError('USAGE', 'a password is needed', { hint: 'use -p PASS or --password-stdin' });
  const client = new RegistryClient(registryEndpoint(registry, loadSettings()), registry, new Authorizer(registry, creds));
  try {
    await client.ping();
  } catch (err) {
    if (err instanceof TsrunError && err.code === 'AUTH') {
      throw new TsrunError('AUTH', `login to ${registry} failed: unauthorized: incorrect username or password`, {
        hint: 'check the username and password',
      });
    }
    throw err;
  }
  const file = configFile();
  storeCredentials(registry, creds, file);
  return { registry, file };
}

export function logout(registryInput: string | undefined): { registry: string; removed: boolean } {
  const registry = normaliseRegistry(registryInput);
  return { registry, removed: removeCredentials(registry) };
}
