/**
 * IP allocation (netavark allocates nothing): one lease file per address,
 * ROOT/networks/leases/NETWORK/IP, holding the container ID and the boot ID,
 * made and removed under the networks lock. A lease is stale, and free again,
 * when it was made in an earlier boot or its container no longer exists (a
 * root whose containers were deleted behind tsrun's back) and no shared
 * namespace (a build's: shared.ts) holds it either.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mkdirInStore, type Ctx } from '../../context.js';
import { conflict, TsrunError, usageError } from '../../util/errors.js';
import { containerDir } from '../../containers/record.js';
import { networksDir, withNetworksLock, type NetworkRecord } from './store.js';
import { contains, ipString, lastIp, parseIp, parseSubnet } from './ipv4.js';

export interface Lease {
  network: string;
  ip: string;
}

let bootIdCache: string | undefined;
export function bootId(): string {
  bootIdCache ??= fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return bootIdCache;
}

function leaseDir(ctx: Ctx, network: string): string {
  return path.join(networksDir(ctx), 'leases', network);
}

export function leaseFile(ctx: Ctx, l: Lease): string {
  return path.join(leaseDir(ctx, l.network), l.ip);
}

/** The record of a container whose network is being torn down after it ended (pending.ts). */
export function pendingRecordPath(ctx: Ctx, id: string): string {
  return path.join(networksDir(ctx), 'pending', `${id}.json`);
}

/** The record of a network namespace shared by a build's RUN containers (shared.ts). */
export function sharedRecordPath(ctx: Ctx, id: string): string {
  return path.join(networksDir(ctx), 'shared', `${id}.json`);
}

/** A removed container whose network is still being torn down holds its leases until that is done. */
function teardownPending(ctx: Ctx, id: string): boolean {
  return fs.existsSync(pendingRecordPath(ctx, id));
}

function stale(ctx: Ctx, file: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return true;
  }
  const [id, boot] = text.split('\n');
  // a shared namespace's record holds its lease until it is settled (shared.ts)
  return boot !== bootId() || !id || (!fs.existsSync(containerDir(ctx, id)) && !teardownPending(ctx, id) && !fs.existsSync(sharedRecordPath(ctx, id)));
}

/** Take an address for container `id` on `net`: `want` (--ip) or the lowest free one after the gateway. */
export function allocateIp(ctx: Ctx, net: NetworkRecord, id: string, want?: string): Lease {
  const subnet = parseSubnet(net.subnets[0]!.subnet);
  const gateway = parseIp(net.subnets[0]!.gateway)!;
  let wanted: number | undefined;
  if (want !== undefined) {
    wanted = parseIp(want);
    if (wanted === undefined) throw usageError(`invalid IP address ${JSON.stringify(want)} for --ip`);
    if (!contains(subnet, wanted) || wanted === subnet.base || wanted === lastIp(subnet)) {
      throw usageError(`--ip ${want} is not a host address of network ${net.name} (${net.subnets[0]!.subnet})`);
    }
    if (wanted === gateway) throw conflict(`--ip ${want} is the gateway of network ${net.name}`);
  }
  return withNetworksLock(ctx, () => {
    const dir = leaseDir(ctx, net.name);
    mkdirInStore(ctx, dir);
    const take = (ip: number): boolean => {
      const file = path.join(dir, ipString(ip));
      if (fs.existsSync(file)) {
        if (!stale(ctx, file)) return false;
        fs.rmSync(file, { force: true });
      }
      fs.writeFileSync(file, `${id}\n${bootId()}\n`, { flag: 'wx', mode: 0o600 });
      return true;
    };
    if (wanted !== undefined) {
      if (!take(wanted)) throw conflict(`address ${ipString(wanted)} is already in use on network ${net.name}`, 'choose another --ip');
      return { network: net.name, ip: ipString(wanted) };
    }
    for (let ip = subnet.base + 1; ip < lastIp(subnet); ip++) {
      if (ip === gateway) continue;
      if (take(ip)) return { network: net.name, ip: ipString(ip) };
    }
    throw new TsrunError('CONFLICT', `no free address left on network ${net.name} (${net.subnets[0]!.subnet})`, { hint: 'remove stopped containers or use another network' });
  });
}

/** Give addresses back (only those this container still holds). */
export function releaseIps(ctx: Ctx, id: string, leases: Lease[]): void {
  if (!leases.length) return;
  withNetworksLock(ctx, () => {
    for (const l of leases) {
      const file = leaseFile(ctx, l);
      try {
        if (fs.readFileSync(file, 'utf8').split('\n')[0] === id) fs.unlinkSync(file);
      } catch {
        /* gone already */
      }
    }
  });
}

/**
 * Give back every address on `networks` that names container `id`: for a container removed with no
 * network record (its start was killed between taking a lease and recording it). Such a lease is
 * already stale once the container's dir is gone; this removes the file too.
 */
export function releaseAllOf(ctx: Ctx, id: string, networks: string[]): void {
  const leases = networks.flatMap((network) => leasesOf(ctx, network, true).filter((l) => l.id === id).map((l) => ({ network, ip: l.ip })));
  releaseIps(ctx, id, leases);
}

/** Leases held now, by network (for `network rm`, inspect); withStale: also those whose holder is gone. */
export function leasesOf(ctx: Ctx, network: string, withStale = false): { ip: string; id: string }[] {
  const dir = leaseDir(ctx, network);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: { ip: string; id: string }[] = [];
  for (const n of names) {
    const file = path.join(dir, n);
    if (!withStale && stale(ctx, file)) continue;
    try {
      out.push({ ip: n, id: fs.readFileSync(file, 'utf8').split('\n')[0]! });
    } catch {
      /* given back meanwhile */
    }
  }
  return out;
}
