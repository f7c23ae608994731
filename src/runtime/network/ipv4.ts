/** IPv4 addresses and subnets as numbers: parsing, containment, overlap. Pure. */
import { usageError } from '../../util/errors.js';

export interface Subnet {
  /** network address */
  base: number;
  prefix: number;
}

export function parseIp(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0]! << 24) >>> 0) + (o[1]! << 16) + (o[2]! << 8) + o[3]!;
}

export function ipString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "10.1.0.0/16" → Subnet; the address must be the network's own (docker refuses 10.1.0.5/16 too). */
export function parseSubnet(s: string): Subnet {
  const [a, p] = s.split('/');
  const ip = parseIp(a ?? '');
  const prefix = Number(p);
  if (ip === undefined || p === undefined || !/^\d+$/.test(p) || prefix < 8 || prefix > 30) {
    throw usageError(`invalid subnet ${JSON.stringify(s)}`, 'give an IPv4 CIDR with a prefix from /8 to /30, e.g. 10.90.0.0/24');
  }
  if ((ip & mask(prefix)) >>> 0 !== ip) throw usageError(`invalid subnet ${s}: it is not a network address`, `use ${ipString((ip & mask(prefix)) >>> 0)}/${prefix}`);
  return { base: ip, prefix };
}

export function subnetString(s: Subnet): string {
  return `${ipString(s.base)}/${s.prefix}`;
}

export function contains(s: Subnet, ip: number): boolean {
  return (ip & mask(s.prefix)) >>> 0 === s.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.base & mask(p)) >>> 0 === (b.base & mask(p)) >>> 0;
}

/** The last address of the subnet (broadcast). */
export function lastIp(s: Subnet): number {
  return (s.base | ~mask(s.prefix)) >>> 0;
}

/** IPv4 routes of the host (/proc/net/route: the address bytes as a little-endian hex word), as subnets; the default route left out. */
export function hostRoutes(text: string): Subnet[] {
  const out: Subnet[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const le = (h: string) => Buffer.from(h, 'hex').readUInt32LE(0);
    const dest = le(f[1]!);
    const m = le(f[7]!);
    if (m === 0) continue;
    let prefix = 0;
    for (let x = m; x; x >>>= 1) prefix += x & 1;
    out.push({ base: (dest & mask(prefix)) >>> 0, prefix });
  }
  return out;
}
