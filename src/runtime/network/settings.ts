/**
 * What `inspect`, `ps` and `port` show of a container's network, in docker's
 * shapes, from its record and (while set up) its network.json.
 */
import type { Ctx } from '../../context.js';
import type { Container } from '../../containers/record.js';
import { containerNetworks, dnsNames, readNetworkState } from './attach.js';
import { listNetworks, netavarkName } from './store.js';
import { portString, type PortBinding } from './ports.js';

/** The mappings in force: the resolved ones while set up, else none (docker shows none for a stopped container). */
export function activePorts(c: Container): PortBinding[] {
  return readNetworkState(c)?.ports ?? [];
}

/** ps's PORTS column. */
export function portsColumn(c: Container): string {
  return activePorts(c).map(portString).join(', ');
}

/** `port CONTAINER`: "80/tcp -> 0.0.0.0:8080" lines. */
export function portLines(c: Container): string[] {
  return activePorts(c).map((p) => `${p.containerPort}/${p.protocol} -> ${p.hostIp || '0.0.0.0'}:${p.hostPort}`);
}

export function networkSettings(ctx: Ctx, c: Container): Record<string, unknown> {
  const s = readNetworkState(c);
  const nets = new Map(listNetworks(ctx).map((n) => [n.name, n]));
  const ports: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const p of c.config.host.portBindings ?? []) ports[`${p.containerPort}/${p.protocol}`] = null;
  for (const p of s?.ports ?? []) (ports[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
  const networks: Record<string, unknown> = {};
  let primary = { ip: '', prefix: 0, gateway: '', mac: '' };
  for (const [i, name] of containerNetworks(c).entries()) {
    const n = nets.get(name);
    const iface = (s?.status?.[netavarkName(ctx, name)] ?? s?.status?.[name])?.interfaces?.[`eth${i}`];
    const addr = iface?.subnets?.[0];
    const [ip, prefix] = addr ? addr.ipnet.split('/') : ['', '0'];
    const e = { ip: ip ?? '', prefix: Number(prefix), gateway: addr?.gateway ?? '', mac: iface?.mac_address ?? '' };
    if (i === 0) primary = e;
    networks[name] = {
      IPAMConfig: c.config.host.ip && i === 0 ? { IPv4Address: c.config.host.ip } : null,
      Links: null,
      Aliases: n?.dns_enabled ? [...(i === 0 ? (c.config.host.networkAliases ?? []) : []), c.config.id.slice(0, 12)] : null,
      DNSNames: n?.dns_enabled ? dnsNames(c, i) : null,
      NetworkID: n?.id ?? '',
      EndpointID: iface ? c.config.id : '',
      Gateway: e.gateway,
      IPAddress: e.ip,
      IPPrefixLen: e.prefix,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      MacAddress: e.mac,
      DriverOpts: null,
    };
  }
  if (c.config.host.network === 'host' || c.config.host.network === 'none') networks[c.config.host.network] = { NetworkID: c.config.host.network, IPAddress: '', Gateway: '' };
  const onDefault = c.config.host.network === 'bridge';
  return {
    Bridge: '',
    SandboxID: s ? c.config.id : '',
    SandboxKey: s?.netns ?? '',
    Ports: ports,
    Gateway: onDefault ? primary.gateway : '',
    IPAddress: onDefault ? primary.ip : '',
    IPPrefixLen: onDefault ? primary.prefix : 0,
    MacAddress: onDefault ? primary.mac : '',
    Networks: networks,
  };
}

/** HostConfig.PortBindings as docker writes them ("" for a random host port). */
export function portBindingsConfig(c: Container): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of c.config.host.portBindings ?? []) (out[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp, HostPort: p.hostPort ? String(p.hostPort) : '' });
  return out;
}
