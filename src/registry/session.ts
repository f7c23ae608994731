/** Build clients for a registry from the settings and the stored credentials. */
import { Authorizer } from './auth.js';
import { RegistryClient } from './client.js';
import { getCredentials } from './credentials.js';
import { loadSettings, pullEndpoints, registryEndpoint, type Endpoint } from './settings.js';

function clientFor(ep: Endpoint, registry: string): RegistryClient {
  const credKey = ep.mirror ? new URL(ep.base).host : registry;
  return new RegistryClient(ep, ep.mirror ? `${credKey} (mirror of ${registry})` : registry, new Authorizer(ep.mirror ? credKey : registry, getCredentials(credKey)));
}

/** Clients to try in order for a pull: mirrors first, then the registry itself. */
export function pullClients(registry: string): RegistryClient[] {
  const s = loadSettings();
  return pullEndpoints(registry, s).map((ep) => clientFor(ep, registry));
}

export function pushClient(registry: string): RegistryClient {
  return clientFor(registryEndpoint(registry, loadSettings()), registry);
}
