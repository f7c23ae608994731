/**
 * One network namespace shared by many short-lived containers: a build's RUN
 * steps on the default network. Each RUN used to get its own namespace, IP and
 * `netavark setup`/`teardown` (~0.1-0.2 s of a step's time on this machine);
 * buildah likewise keeps one per build. Here the namespace, its address and
 * netavark's setup are made once, on first use, and every RUN container joins
 * the namespace by path (start.ts, StartOptions.netns) with its own /etc/hosts
 * and /etc/resolv.conf made from what the namespace has. The containers own
 * none of it: their removal leaves it alone.
 *
 * The record, ROOT/networks/shared/ID.json, is a container's network.json
 * (attach.ts's NetworkState) plus its owner's PID and start time. It is
 * written before anything exists on the host, and it holds the lease
 * (ipam.ts's `stale`), so a tsrun killed at any point leaves what its
 * successor needs: the next `openSharedNetwork` on the root settles records
 * whose owner is gone. `close()` hands the teardown to pending.ts's detached
 * job (as `run --rm` does) or, failing that, does it here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mkdirInStore, noStore, type Ctx } from '../../context.js';
import { readJsonIfExists, writeJsonReplace } from '../../util/atomic.js';
import { randomHex } from '../../util/builtins.js';
import { procStartTime } from '../../containers/status.js';
import { allocateIp, bootId, releaseIps, sharedRecordPath } from './ipam.js';
import { findNetavark, netavarkSetup, setHairpin } from './netavark.js';
import { createNetns, netnsPath } from './netns.js';
import { DEFAULT_NETWORK, getNetwork, netavarkName, networksDir, rootTag } from './store.js';
import { hostsFile, resolvConf } from './etcfiles.js';
import { handOffTeardown, undoNamespace } from './pending.js';
import { netavarkNetwork, type NetworkState } from './attach.js';

interface SharedRecord extends NetworkState {
  ownerPid: number;
  ownerStart: number;
}

export interface SharedNetwork {
  id: string;
  /** The namespace file the containers join. */
  netns: string;
  ip: string;
  /** /etc/hosts for a container with this hostname in the namespace. */
  hosts(hostname: string): string;
  /** /etc/resolv.conf for the namespace's containers. */
  resolvConf: string;
  /** Tear it all down (in a detached job when that can be); safe to call twice. */
  close(): void;
}

export function sharedDir(ctx: Ctx): string {
  return path.join(networksDir(ctx), 'shared');
}

const recordFile = sharedRecordPath;

function teardownNow(ctx: Ctx, id: string, s: NetworkState): void {
  undoNamespace(s);
  releaseIps(ctx, id, s.leases);
  fs.rmSync(recordFile(ctx, id), { force: true });
}

/** Records whose owner died without closing them (a killed tsrun, a reboot): undone here. */
export function settleOrphanedShared(ctx: Ctx): void {
  let names: string[];
  try {
    names = fs.readdirSync(sharedDir(ctx));
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    const id = n.slice(0, -5);
    let r: SharedRecord | undefined;
    try {
      r = readJsonIfExists<SharedRecord>(recordFile(ctx, id));
    } catch {
      continue; // being written
    }
    if (!r) continue;
    const alive = r.bootId === bootId() && procStartTime(r.ownerPid) === r.ownerStart;
    if (!alive) teardownNow(ctx, id, r);
  }
}

/** Make the namespace on the default network, have netavark set it up, and return it. */
export async function openSharedNetwork(ctx: Ctx): Promise<SharedNetwork> {
  const nv = findNetavark();
  settleOrphanedShared(ctx);
  const net = getNetwork(ctx, DEFAULT_NETWORK);
  const id = randomHex(32);
  const netns = netnsPath(id);
  const file = recordFile(ctx, id);
  const state: SharedRecord = {
    bootId: bootId(),
    netns,
    configDir: `/run/tsrun/netavark/${rootTag(ctx.root)}`,
    options: {},
    leases: [],
    ports: [],
    ownerPid: process.pid,
    ownerStart: procStartTime(process.pid) ?? 0,
  };
  if (!mkdirInStore(ctx, sharedDir(ctx))) throw noStore(ctx);
  // the record first (no lease, no namespace yet): whatever exists later, it is there to undo it
  writeJsonReplace(file, state);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    if (!handOffTeardown(ctx, id, file)) teardownNow(ctx, id, state);
  };
  try {
    const lease = allocateIp(ctx, net, id);
    state.leases.push(lease);
    const name = `build-${id.slice(0, 12)}`;
    state.options = {
      container_id: id,
      container_name: name,
      networks: { [netavarkName(ctx, net.name)]: { interface_name: 'eth0', static_ips: [lease.ip], ...(net.dns_enabled ? { aliases: [name] } : {}) } },
      network_info: { [netavarkName(ctx, net.name)]: netavarkNetwork(ctx, net) },
    };
    writeJsonReplace(file, state);
    createNetns(netns);
    fs.mkdirSync(state.configDir, { recursive: true, mode: 0o700 });
    state.status = (await netavarkSetup(nv, state.configDir, netns, state.options)) as NetworkState['status'];
    setHairpin(net.network_interface);
    writeJsonReplace(file, state);
    const resolv = resolvConf({}, net.dns_enabled ? [net.subnets[0]!.gateway] : []);
    return { id, netns, ip: lease.ip, hosts: (hostname) => hostsFile(hostname, lease.ip, []), resolvConf: resolv, close };
  } catch (err) {
    closed = true;
    teardownNow(ctx, id, state);
    throw err;
  }
}
