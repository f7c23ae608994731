/**
 * Network records of one tsrun root: ROOT/networks/NAME.json, each a
 * netavark Network (what `netavark setup` takes as network_info) plus
 * docker's metadata. The default network `bridge` is made on first use: its
 * own bridge device and a subnet that overlaps no route of the host (so not
 * docker's 172.17/16 while it is up), never podman's fixed 10.88/16, and no
 * other network of this root.
 *
 * Bridge device names are global on the host while roots are not: the
 * default root's are tsrun0, tsrun1 …; another root's carry a hash of its
 * path (tsrXXXXXXnN), so two roots never share a bridge.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../../context.js';
import { DEFAULT_ROOT, mkdirInStore, noStore } from '../../context.js';
import { conflict, notFound, TsrunError, usageError } from '../../util/errors.js';
import { writeJsonAtomic, readJsonIfExists } from '../../util/atomic.js';
import { withLockSync } from '../../util/lock.js';
import { randomHex } from '../../util/builtins.js';
import { hostRoutes, ipString, overlaps, parseIp, parseSubnet, subnetString, contains, lastIp, type Subnet } from './ipv4.js';
import { claimedElsewhere, claimSubnet } from './subnet-claims.js';

export interface NetworkRecord {
  name: string;
  id: string;
  driver: 'bridge';
  network_interface: string;
  subnets: { subnet: string; gateway: string }[];
  ipv6_enabled: false;
  internal: boolean;
  dns_enabled: boolean;
  ipam_options: { driver: 'host-local' };
  created: string;
  labels?: Record<string, string>;
}

/** Modes that are no network of the store. */
export const SPECIAL_MODES = ['none', 'host'];
export const DEFAULT_NETWORK = 'bridge';

export function networksDir(ctx: Ctx): string {
  return path.join(ctx.root, 'networks');
}

/** Held for every change to networks and leases of this root. */
export function withNetworksLock<T>(ctx: Ctx, fn: () => T): T {
  if (!mkdirInStore(ctx, networksDir(ctx))) throw noStore(ctx);
  return withLockSync(path.join(networksDir(ctx), 'lock'), fn);
}

function recordPath(ctx: Ctx, name: string): string {
  return path.join(networksDir(ctx), `${name}.json`);
}

export function validNetworkName(name: string): boolean {
  return /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(name);
}

export function listNetworks(ctx: Ctx): NetworkRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(networksDir(ctx));
  } catch {
    return [];
  }
  const out: NetworkRecord[] = [];
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    const r = readJsonIfExists<NetworkRecord>(path.join(networksDir(ctx), n));
    if (r) out.push(r);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** FNV-1a of the root path: a short stable tag for its bridge names. */
export function rootTag(root: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < root.length; i++) h = Math.imul(h ^ root.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0').slice(0, 6);
}

/**
 * The name netavark knows a network by. netavark names its iptables chains
 * after a hash of the network's name and drops a network's chains with its
 * last container, so two roots' `bridge` (or a podman network of the same
 * name) would share, and tear down, each other's NAT rules: the root's tag
 * keeps them apart.
 */
export function netavarkName(ctx: Ctx, name: string): string {
  return `tsrun-${rootTag(path.resolve(ctx.root))}-${name}`;
}

function bridgeName(ctx: Ctx, n: number): string {
  return path.resolve(ctx.root) === DEFAULT_ROOT ? `tsrun${n}` : `tsr${rootTag(ctx.root)}n${n}`;
}

function freeBridgeName(ctx: Ctx, taken: NetworkRecord[]): string {
  const used = new Set(taken.map((t) => t.network_interface));
  for (let n = 0; n < 1000; n++) {
    const b = bridgeName(ctx, n);
    if (!used.has(b) && !fs.existsSync(`/sys/class/net/${b}`)) return b;
  }
  throw new TsrunError('CONFLICT', 'no free bridge name', { hint: 'remove unused networks: tsrun network prune' });
}

function readRoutes(): Subnet[] {
  try {
    return hostRoutes(fs.readFileSync('/proc/net/route', 'utf8'));
  } catch {
    return [];
  }
}

/** Subnets a new network must not overlap: the host's routes and this root's networks. */
function takenSubnets(nets: NetworkRecord[]): Subnet[] {
  return [...readRoutes(), ...nets.flatMap((n) => n.subnets.map((s) => parseSubnet(s.subnet)))];
}

/**
 * The first free candidate, starting at an offset from the root's tag (so two
 * test roots made at once rarely try the same first): the default network takes a
 * /16 of 10.66-127 (but 10.88, podman's fixed default), user networks a /24 of 10.130.0-255.
 * Free: no host route, no network of this root, no other root's claim (subnet-claims.ts);
 * the one picked is claimed for this root's network `name`.
 */
function pickSubnet(ctx: Ctx, name: string, nets: NetworkRecord[], isDefault: boolean): Subnet {
  const root = path.resolve(ctx.root);
  const taken = [...takenSubnets(nets), ...claimedElsewhere(root)];
  const count = isDefault ? 62 : 256;
  const start = path.resolve(ctx.root) === DEFAULT_ROOT ? 0 : parseInt(rootTag(ctx.root), 16) % count;
  for (let i = 0; i < count; i++) {
    const k = (start + i) % count;
    // never podman's default 10.88/16, even while podman is down: its network is fixed there
    if (isDefault && 66 + k === 88) continue;
    const s: Subnet = isDefault ? { base: ((10 << 24) >>> 0) + ((66 + k) << 16), prefix: 16 } : { base: ((10 << 24) >>> 0) + (130 << 16) + (k << 8), prefix: 24 };
    if (!taken.some((t) => overlaps(t, s)) && claimSubnet(root, name, s)) return s;
  }
  throw new TsrunError('CONFLICT', 'no free subnet for a new network', { hint: 'give one with --subnet' });
}

export interface CreateNetworkOptions {
  subnet?: string;
  gateway?: string;
  internal?: boolean;
  driver?: string;
  labels?: Record<string, string>;
}

function makeRecord(ctx: Ctx, name: string, o: CreateNetworkOptions, nets: NetworkRecord[], isDefault: boolean): NetworkRecord {
  if (o.driver && o.driver !== 'bridge') throw new TsrunError('UNSUPPORTED', `network driver ${JSON.stringify(o.driver)} is not supported`, { hint: 'use -d bridge' });
  let subnet: Subnet;
  if (o.subnet) {
    subnet = parseSubnet(o.subnet);
    const clash = nets.find((n) => n.subnets.some((s) => overlaps(parseSubnet(s.subnet), subnet)));
    if (clash) throw conflict(`subnet ${o.subnet} overlaps network ${clash.name} (${clash.subnets[0]!.subnet})`, 'choose another --subnet');
    const route = readRoutes().find((r) => overlaps(r, subnet));
    if (route) throw conflict(`subnet ${o.subnet} overlaps the host route ${subnetString(route)}`, 'choose another --subnet');
  } else {
    if (o.gateway) throw usageError('--gateway needs --subnet');
    subnet = pickSubnet(ctx, name, nets, isDefault);
  }
  let gateway = subnet.base + 1;
  if (o.gateway) {
    const g = parseIp(o.gateway);
    if (g === undefined || !contains(subnet, g) || g === subnet.base || g === lastIp(subnet)) {
      throw usageError(`invalid gateway ${o.gateway}: not a host address of ${subnetString(subnet)}`);
    }
    gateway = g;
  }
  return {
    name,
    id: randomHex(32),
    driver: 'bridge',
    network_interface: freeBridgeName(ctx, nets),
    subnets: [{ subnet: subnetString(subnet), gateway: ipString(gateway) }],
    ipv6_enabled: false,
    internal: !!o.internal,
    // docker: names resolve on user networks only, never on the default bridge
    dns_enabled: !isDefault,
    ipam_options: { driver: 'host-local' },
    created: new Date().toISOString(),
    ...(o.labels && Object.keys(o.labels).length ? { labels: o.labels } : {}),
  };
}

export function createNetwork(ctx: Ctx, name: string, o: CreateNetworkOptions): NetworkRecord {
  if (!validNetworkName(name)) throw usageError(`invalid network name ${JSON.stringify(name)}`, 'only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed');
  if ([...SPECIAL_MODES, DEFAULT_NETWORK].includes(name)) throw conflict(`network ${name} is a pre-defined network and cannot be created`);
  return withNetworksLock(ctx, () => {
    const nets = listNetworks(ctx);
    if (nets.some((n) => n.name === name)) throw conflict(`network with name ${name} already exists`, 'choose another name or remove it: tsrun network rm');
    const rec = makeRecord(ctx, name, o, nets, false);
    writeJsonAtomic(recordPath(ctx, name), rec);
    return rec;
  });
}

/** A network by name or ID prefix; `bridge` is made when it does not exist yet. */
export function getNetwork(ctx: Ctx, ref: string): NetworkRecord {
  const existing = readJsonIfExists<NetworkRecord>(validNetworkName(ref) ? recordPath(ctx, ref) : '/nonexistent');
  if (existing) return existing;
  if (ref === DEFAULT_NETWORK) {
    return withNetworksLock(ctx, () => {
      const again = readJsonIfExists<NetworkRecord>(recordPath(ctx, ref));
      if (again) return again;
      const rec = makeRecord(ctx, DEFAULT_NETWORK, {}, listNetworks(ctx), true);
      writeJsonAtomic(recordPath(ctx, ref), rec);
      return rec;
    });
  }
  if (/^[a-f0-9]{3,64}$/.test(ref)) {
    const hits = listNetworks(ctx).filter((n) => n.id.startsWith(ref));
    if (hits.length === 1) return hits[0]!;
  }
  throw notFound(`network ${ref} not found`, 'see `tsrun network ls`, or create it: tsrun network create');
}

/** Remove a record (the caller checked that no container uses it). */
export function removeNetworkRecord(ctx: Ctx, name: string): void {
  fs.rmSync(recordPath(ctx, name), { force: true });
  fs.rmSync(path.join(networksDir(ctx), 'leases', name), { recursive: true, force: true });
}
