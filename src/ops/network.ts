/**
 * docker's `network` verbs over the network store (src/runtime/network/store.ts):
 * create, ls, inspect, rm, prune, connect and disconnect (stopped containers).
 */
import fs from 'node:fs';
import type { Ctx } from '../context.js';
import { findContainer, listContainers, writeConfig, type Container } from '../containers/record.js';
import { isRunning, refresh } from '../containers/status.js';
import { conflict, TsrunError } from '../util/errors.js';
import { containerNetworks, readNetworkState } from '../runtime/network/attach.js';
import { pendingNetworks, settlePending } from '../runtime/network/pending.js';
import { netavarkName } from '../runtime/network/store.js';
import { createNetwork, DEFAULT_NETWORK, getNetwork, listNetworks, removeNetworkRecord, withNetworksLock, type CreateNetworkOptions, type NetworkRecord } from '../runtime/network/store.js';

export { createNetwork, type CreateNetworkOptions };

/** Every network, the default one included (its record is made if needed: nothing on the host). */
export function networkList(ctx: Ctx): NetworkRecord[] {
  // the default network is recorded on first use; a store that does not exist has none (nothing is made for a list)
  if (!fs.existsSync(ctx.root)) return [];
  getNetwork(ctx, DEFAULT_NETWORK);
  return listNetworks(ctx);
}

function usersOf(ctx: Ctx, name: string): Container[] {
  return listContainers(ctx).filter((c) => containerNetworks(c).includes(name));
}

export function inspectNetwork(ctx: Ctx, ref: string): Record<string, unknown> {
  const n = getNetwork(ctx, ref);
  const containers: Record<string, unknown> = {};
  for (const c0 of usersOf(ctx, n.name)) {
    const c = refresh(ctx, c0);
    const s = readNetworkState(c);
    if (!s?.status) continue;
    const i = containerNetworks(c).indexOf(n.name);
    const iface = s.status[n.name]?.interfaces?.[`eth${i}`];
    containers[c.config.id] = {
      Name: c.config.name,
      EndpointID: c.config.id,
      MacAddress: iface?.mac_address ?? '',
      IPv4Address: iface?.subnets?.[0]?.ipnet ?? '',
      IPv6Address: '',
    };
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: n.subnets.map((s) => ({ Subnet: s.subnet, Gateway: s.gateway })) },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: { 'com.docker.network.bridge.name': n.network_interface },
    Labels: n.labels ?? {},
  };
}

export function removeNetwork(ctx: Ctx, ref: string): string {
  const n = getNetwork(ctx, ref);
  if (n.name === DEFAULT_NETWORK) throw conflict(`${n.name} is a pre-defined network and cannot be removed`);
  // containers that ended on it may still be being torn down: that finishes first
  settlePending(ctx, (p) => pendingNetworks(p).some((x) => x === n.name || x === netavarkName(ctx, n.name)));
  return withNetworksLock(ctx, () => {
    const users = usersOf(ctx, n.name);
    if (users.length) {
      throw conflict(`network ${n.name} is in use by container${users.length > 1 ? 's' : ''} ${users.map((c) => c.config.name).join(', ')}`, 'remove those containers, or disconnect them: tsrun network disconnect');
    }
    removeNetworkRecord(ctx, n.name);
    return n.name;
  });
}

/** User networks no container uses. */
export function pruneNetworks(ctx: Ctx): string[] {
  const removed: string[] = [];
  for (const n of listNetworks(ctx)) {
    if (n.name === DEFAULT_NETWORK) continue;
    try {
      removed.push(removeNetwork(ctx, n.name));
    } catch {
      /* in use */
    }
  }
  return removed;
}

function stoppedContainer(ctx: Ctx, ref: string, verb: string): Container {
  const c = refresh(ctx, findContainer(ctx, ref));
  if (isRunning(c)) {
    throw new TsrunError('UNSUPPORTED', `cannot ${verb} running container ${c.config.name}: only stopped containers can change networks`, { hint: `stop it first: tsrun stop ${c.config.name}` });
  }
  return c;
}

export function connectNetwork(ctx: Ctx, netRef: string, ref: string): void {
  const n = getNetwork(ctx, netRef);
  const c = stoppedContainer(ctx, ref, 'connect');
  const h = c.config.host;
  if (containerNetworks(c).includes(n.name)) throw conflict(`container ${c.config.name} is already connected to network ${n.name}`);
  if (h.network === 'host' || h.network.startsWith('container:')) throw conflict(`container ${c.config.name} uses the ${h.network.split(':')[0]} network mode and cannot join a network`);
  if (h.network === 'none') h.network = n.name;
  else h.extraNetworks = [...(h.extraNetworks ?? []), n.name];
  writeConfig(c);
}

export function disconnectNetwork(ctx: Ctx, netRef: string, ref: string): void {
  const n = getNetwork(ctx, netRef);
  const c = stoppedContainer(ctx, ref, 'disconnect');
  const h = c.config.host;
  const nets = containerNetworks(c);
  if (!nets.includes(n.name)) throw conflict(`container ${c.config.name} is not connected to network ${n.name}`);
  const rest = nets.filter((x) => x !== n.name);
  h.network = rest[0] ?? 'none';
  h.extraNetworks = rest.slice(1);
  if (!h.extraNetworks.length) delete h.extraNetworks;
  if (h.network === 'none') delete h.portBindings;
  writeConfig(c);
}
