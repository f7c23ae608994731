/**
 * Published ports: docker's -p and -P, and the host side of each mapping.
 * netavark 1.4 only writes DNAT rules and binds nothing, so a port already
 * in use on the host (or published by another container of this root) is
 * refused here, and a random host port is one that neither holds.
 */
import fs from 'node:fs';
import { TsrunError, usageError } from '../../util/errors.js';
import { parseIp } from './ipv4.js';
import { randomBytes } from '../../util/builtins.js';

export interface PortBinding {
  /** '' for every address */
  hostIp: string;
  /** 0: a random free port, chosen at start */
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

function port(s: string, spec: string, allowZero = false): number {
  const n = Number(s);
  if (!/^\d{1,5}$/.test(s) || n > 65535 || (n === 0 && !allowZero)) throw usageError(`invalid port ${JSON.stringify(s)} in -p ${spec}`, 'use -p [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]');
  return n;
}

/** -p [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp] (IP::CONTAINERPORT: a random port on IP). */
export function parsePublish(spec: string): PortBinding {
  let rest = spec;
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1);
    if (p !== 'tcp' && p !== 'udp') throw usageError(`invalid protocol ${JSON.stringify(p)} in -p ${spec}`, 'use tcp or udp');
    protocol = p;
    rest = rest.slice(0, slash);
  }
  if (/\d-\d/.test(rest)) throw new TsrunError('UNSUPPORTED', `port ranges are not supported: -p ${spec}`, { hint: 'publish each port with its own -p' });
  const parts = rest.split(':');
  if (parts.length > 3 || parts.some((p, i) => p === '' && !(parts.length === 3 && i === 1))) {
    throw usageError(`invalid -p ${JSON.stringify(spec)}`, 'use -p [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]');
  }
  let hostIp = '';
  if (parts.length === 3) {
    hostIp = parts[0]!;
    if (parseIp(hostIp) === undefined) throw usageError(`invalid host IP ${JSON.stringify(hostIp)} in -p ${spec}`, 'give an IPv4 address');
  }
  const containerPort = port(parts[parts.length - 1]!, spec);
  const hostPort = parts.length >= 2 && parts[parts.length - 2] !== '' ? port(parts[parts.length - 2]!, spec) : 0;
  return { hostIp, hostPort, containerPort, protocol };
}

/** The image's ExposedPorts keys ("80/tcp") for -P: each on a random host port. */
export function exposedBindings(exposed: string[]): PortBinding[] {
  const out: PortBinding[] = [];
  for (const e of exposed) {
    const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(e);
    if (!m || Number(m[1]) === 0 || Number(m[1]) > 65535) continue; // sctp, ranges: not published
    out.push({ hostIp: '', hostPort: 0, containerPort: Number(m[1]), protocol: (m[2] as 'tcp' | 'udp' | undefined) ?? 'tcp' });
  }
  return out;
}

/** Ports with a socket bound on the host (LISTEN for tcp, any bound for udp), from /proc/net. */
export function hostPortsInUse(protocol: 'tcp' | 'udp'): Set<number> {
  const used = new Set<number>();
  for (const f of [`/proc/net/${protocol}`, `/proc/net/${protocol}6`]) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 4) continue;
      if (protocol === 'tcp' && c[3] !== '0A') continue;
      used.add(parseInt(c[1]!.split(':')[1]!, 16));
    }
  }
  return used;
}

/**
 * Concrete host ports for each binding: a fixed one must be free (not bound on
 * the host, not published by `published`), a 0 gets a free one from the
 * ephemeral range.
 */
export function resolveHostPorts(bindings: PortBinding[], published: () => PortBinding[]): PortBinding[] {
  if (!bindings.length) return [];
  const inUse = { tcp: hostPortsInUse('tcp'), udp: hostPortsInUse('udp') };
  let others = published();
  const taken = (b: PortBinding, p: number) =>
    inUse[b.protocol].has(p) || others.some((o) => o.protocol === b.protocol && o.hostPort === p && (!o.hostIp || !b.hostIp || o.hostIp === b.hostIp));
  const out: PortBinding[] = [];
  for (const b of bindings) {
    if (b.hostPort) {
      if (taken(b, b.hostPort)) {
        throw new TsrunError('CONFLICT', `host port ${b.hostPort}/${b.protocol} is already in use`, { hint: 'publish on another host port, or stop what uses it' });
      }
      out.push(b);
    } else {
      const [lo, hi] = [32768, 60999];
      let chosen = 0;
      const start = lo + (randomBytes(2).readUInt16LE(0) % (hi - lo + 1));
      for (let i = 0; i <= hi - lo && !chosen; i++) {
        const p = lo + ((start - lo + i) % (hi - lo + 1));
        if (!taken(b, p) && !out.some((o) => o.protocol === b.protocol && o.hostPort === p)) chosen = p;
      }
      if (!chosen) throw new TsrunError('CONFLICT', 'no free host port to publish on', { hint: 'give the host port with -p HOSTPORT:PORT' });
      out.push({ ...b, hostPort: chosen });
    }
    others = [...others, out[out.length - 1]!];
  }
  return out;
}

/** docker's "0.0.0.0:8080->80/tcp" (ps PORTS, port). */
export function portString(b: PortBinding): string {
  return `${b.hostIp || '0.0.0.0'}:${b.hostPort}->${b.containerPort}/${b.protocol}`;
}
