/**
 * A container's network, from start to teardown. For a network mode served
 * by netavark (`bridge` and user networks) `prepareNetwork` does the quick,
 * synchronous part before the container process may join anything: the
 * addresses (IPAM), the host ports, the teardown record
 * (ROOT/containers/ID/network.json, written before anything exists on the
 * host, so a tsrun killed at any point leaves what its successor needs), the
 * namespace file, /etc/hosts and /etc/resolv.conf. `setup()` then runs
 * netavark while the container sets up its filesystem; the container execs
 * only once it is done (start.ts sends the go then).
 *
 * `teardownNetwork` undoes all of it from the record alone, and is safe to
 * run twice or on a half-made setup: every command that sees the container
 * dead (refresh, rm, run's own exit path) calls it. A record from an earlier
 * boot is dropped without netavark: the kernel state died with that boot.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../../context.js';
import { readContainer, type Container } from '../../containers/record.js';
import { refresh } from '../../containers/status.js';
import { readJsonIfExists, writeJsonReplace } from '../../util/atomic.js';
import { TsrunError } from '../../util/errors.js';
import { allocateIp, bootId, releaseAllOf, releaseIps, type Lease } from './ipam.js';
import { findNetavark, netavarkSetup, setHairpin } from './netavark.js';
import { createNetns, netnsPath } from './netns.js';
import { getNetwork, netavarkName, rootTag, SPECIAL_MODES, type NetworkRecord } from './store.js';
import { resolveHostPorts, type PortBinding } from './ports.js';
import { hostsFile, resolvConf } from './etcfiles.js';
import { handOffTeardown, pendingTeardowns, settlePending, undoNamespace } from './pending.js';

export interface StatusBlock {
  dns_server_ips?: string[];
  dns_search_domains?: string[];
  interfaces?: Record<string, { mac_address: string; subnets?: { ipnet: string; gateway?: string }[] }>;
}

/** ROOT/containers/ID/network.json */
export interface NetworkState {
  bootId: string;
  netns: string;
  configDir: string;
  /** exactly what `netavark setup` got; teardown gets it again */
  options: Record<string, unknown>;
  leases: Lease[];
  ports: PortBinding[];
  /** netavark's answer, once setup succeeded */
  status?: Record<string, StatusBlock>;
}

/** Modes netavark serves: anything but none, host and container:ID. */
export function usesNetavark(mode: string): boolean {
  return !SPECIAL_MODES.includes(mode) && !mode.startsWith('container:');
}

/** The networks a container is attached to (its mode, then `network connect`'s). */
export function containerNetworks(c: Container): string[] {
  const h = c.config.host;
  return usesNetavark(h.network) ? [h.network, ...(h.extraNetworks ?? []).filter((n) => n !== h.network)] : [];
}

/**
 * The names aardvark-dns answers for the container on its i-th network: its
 * name, its short ID, and on the first network its --network-alias names
 * (docker scopes an alias to the network it was given for).
 */
export function dnsNames(c: Container, i: number): string[] {
  const own = [c.config.name, c.config.id.slice(0, 12)];
  return i === 0 ? [...own, ...(c.config.host.networkAliases ?? [])] : own;
}

function statePath(c: Container): string {
  return path.join(c.dir, 'network.json');
}

export function readNetworkState(c: Container): NetworkState | undefined {
  try {
    return readJsonIfExists<NetworkState>(statePath(c));
  } catch {
    return undefined;
  }
}

/** aardvark-dns configs: per root, on a tmpfs (gone with the boot, like the namespaces). */
function configDir(ctx: Ctx): string {
  return `/run/tsrun/netavark/${rootTag(ctx.root)}`;
}

/** Host ports published by this root's other containers that are set up now, or still being torn down. */
function publishedByOthers(ctx: Ctx, id: string): PortBinding[] {
  const out: PortBinding[] = pendingTeardowns(ctx).flatMap((p) => (p.id === id ? [] : p.state.ports));
  for (const other of fs.readdirSync(ctx.containersDir)) {
    if (other === id || !/^[a-f0-9]{64}$/.test(other)) continue;
    try {
      const s = readJsonIfExists<NetworkState>(path.join(ctx.containersDir, other, 'network.json'));
      if (s) out.push(...s.ports);
    } catch {
      /* torn: skip */
    }
  }
  return out;
}

export function netavarkNetwork(ctx: Ctx, n: NetworkRecord): Record<string, unknown> {
  const { created: _c, labels: _l, ...rest } = n;
  return { ...rest, name: netavarkName(ctx, n.name) };
}

export interface PreparedNetwork {
  /** what the container process joins (nsjoin=net) */
  netns: string;
  /** runs netavark; resolves once the namespace is ready */
  setup(): Promise<void>;
}

export function prepareNetwork(ctx: Ctx, c: Container): PreparedNetwork {
  const nv = findNetavark();
  const h = c.config.host;
  // teardowns still running after earlier containers ended hold what they had: this container's own
  // (same namespace path), and any other's that holds a host port or the --ip this one wants, end first
  const fixedPorts = (h.portBindings ?? []).some((b) => b.hostPort !== 0);
  settlePending(ctx, (p) => p.id === c.config.id || (fixedPorts && p.state.ports.length > 0) || (h.ip !== undefined && p.state.leases.some((l) => l.ip === h.ip)));
  const nets = containerNetworks(c).map((n) => getNetwork(ctx, n));
  const ports = resolveHostPorts(h.portBindings ?? [], () => publishedByOthers(ctx, c.config.id));
  const netns = netnsPath(c.config.id);
  const leases: Lease[] = [];
  const state: NetworkState = { bootId: bootId(), netns, configDir: configDir(ctx), options: {}, leases, ports };
  try {
    nets.forEach((n, i) => leases.push(allocateIp(ctx, n, c.config.id, i === 0 ? h.ip : undefined)));
    state.options = {
      container_id: c.config.id,
      container_name: c.config.name,
      networks: Object.fromEntries(nets.map((n, i) => [netavarkName(ctx, n.name), { interface_name: `eth${i}`, static_ips: [leases[i]!.ip], ...(n.dns_enabled ? { aliases: dnsNames(c, i) } : {}) }])),
      network_info: Object.fromEntries(nets.map((n) => [netavarkName(ctx, n.name), netavarkNetwork(ctx, n)])),
      ...(ports.length ? { port_mappings: ports.map((p) => ({ host_ip: p.hostIp, container_port: p.containerPort, host_port: p.hostPort, range: 1, protocol: p.protocol })) } : {}),
    };
    writeJsonReplace(statePath(c), state);
    createNetns(netns);
    const dnsNet = nets.find((n) => n.dns_enabled);
    const extra = h.extraHosts ?? [];
    fs.writeFileSync(path.join(c.dir, 'hosts'), hostsFile(c.config.hostname, leases[0]!.ip, extra));
    fs.writeFileSync(path.join(c.dir, 'resolv.conf'), resolvConf(h.dns ?? {}, dnsNet ? [dnsNet.subnets[0]!.gateway] : []));
  } catch (err) {
    teardownNetwork(ctx, c);
    throw err;
  }
  return {
    netns,
    async setup() {
      fs.mkdirSync(state.configDir, { recursive: true, mode: 0o700 });
      state.status = (await netavarkSetup(nv, state.configDir, netns, state.options)) as Record<string, StatusBlock>;
      for (const n of nets) setHairpin(n.network_interface);
      writeJsonReplace(statePath(c), state);
    },
  };
}

/**
 * Undo a container's network from its record, here and now (a teardown
 * already handed to a job is waited for); a no-op without one. Errors of
 * netavark are swallowed: nothing must keep the rest from going.
 */
export function teardownNetwork(ctx: Ctx, c: Container): void {
  settlePending(ctx, (p) => p.id === c.config.id);
  const s = readNetworkState(c);
  if (!s) {
    // a start killed after taking its addresses and before recording them left leases naming it
    releaseAllOf(ctx, c.config.id, containerNetworks(c));
    return;
  }
  const err = undoNamespace(s);
  if (err && ctx.debug) process.stderr.write(`tsrun: ${err.message}\n`);
  releaseIps(ctx, c.config.id, s.leases);
  fs.rmSync(statePath(c), { force: true });
}

/**
 * The network of a container that has just ended, undone without making the
 * caller wait: handed to a detached job (pending.ts), or done here when that
 * cannot be.
 */
export function teardownNetworkSoon(ctx: Ctx, c: Container): void {
  if (!handOffTeardown(ctx, c.config.id, statePath(c))) teardownNetwork(ctx, c);
}

/**
 * --network container:ID: the other container's namespace (it must be
 * running), and its /etc/hosts and /etc/resolv.conf, as docker shares them.
 */
export function joinContainerNetwork(ctx: Ctx, c: Container): string {
  const id = c.config.host.network.slice('container:'.length);
  const other = readContainer(ctx, id);
  if (!other) throw new TsrunError('NOT_FOUND', `cannot join the network of container ${id.slice(0, 12)}: it no longer exists`, { hint: 'remove this container and create it again' });
  const fresh = refresh(ctx, other);
  if (fresh.state.status !== 'running' || !fresh.state.pid) {
    throw new TsrunError('CONFLICT', `cannot join the network of container ${fresh.config.name}: it is not running`, { hint: `start it first: tsrun start ${fresh.config.name}` });
  }
  for (const f of ['hosts', 'resolv.conf']) fs.copyFileSync(path.join(fresh.dir, f), path.join(c.dir, f));
  return `/proc/${fresh.state.pid}/ns/net`;
}
