/**
 * /etc/hosts and /etc/resolv.conf of a container, as docker writes them.
 * resolv.conf: the host's (systemd-resolved's real upstream file when the
 * host's points at its 127.0.0.53 stub), loopback nameservers removed (they
 * mean nothing in another network namespace), 8.8.8.8 and 8.8.4.4 when none
 * remain; --dns, --dns-search, --dns-option replace their parts. On a
 * network with DNS (user networks) the nameserver is the gateway's
 * aardvark-dns, which answers container names and forwards the rest.
 */
import fs from 'node:fs';
import { usageError } from '../../util/errors.js';

export interface DnsFlags {
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

const RESOLVED = '/run/systemd/resolve/resolv.conf';

function readHostResolv(): string {
  let text = '';
  try {
    text = fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
  if (/^\s*nameserver\s+127\.0\.0\.53\b/m.test(text)) {
    try {
      return fs.readFileSync(RESOLVED, 'utf8');
    } catch {
      /* resolved not running: the stub file it is */
    }
  }
  return text;
}

function fields(text: string, key: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0] === key)
    .map((f) => f.slice(1));
}

export function resolvConf(flags: DnsFlags, networkDns: string[] = []): string {
  const host = readHostResolv();
  let servers = fields(host, 'nameserver').map((f) => f[0]!).filter((s) => s && !s.startsWith('127.') && s !== '::1');
  if (!servers.length) servers = ['8.8.8.8', '8.8.4.4'];
  if (networkDns.length) servers = networkDns;
  if (flags.dns?.length) servers = flags.dns;
  const search = flags.dnsSearch?.length ? flags.dnsSearch : (fields(host, 'search').pop() ?? fields(host, 'domain').pop() ?? []);
  const options = flags.dnsOptions?.length ? flags.dnsOptions : (fields(host, 'options').flat());
  const lines = [
    ...(search.length && !(search.length === 1 && search[0] === '.') ? [`search ${search.join(' ')}`] : []),
    ...servers.map((s) => `nameserver ${s}`),
    ...(options.length ? [`options ${options.join(' ')}`] : []),
  ];
  return lines.join('\n') + '\n';
}

/** --add-host NAME:IP (docker's host:ip; host-gateway is not supported). */
export function parseAddHost(spec: string): { name: string; ip: string } {
  const i = spec.indexOf(':');
  const name = i < 0 ? '' : spec.slice(0, i);
  const ip = i < 0 ? '' : spec.slice(i + 1);
  if (!name || !ip || /\s/.test(name + ip) || !/^[0-9a-fA-F.:]+$/.test(ip)) {
    throw usageError(`invalid --add-host ${JSON.stringify(spec)}`, 'use --add-host NAME:IP');
  }
  return { name, ip };
}

export function hostsFile(hostname: string, ip: string | undefined, extra: { name: string; ip: string }[], aliases: string[] = []): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    ...extra.map((e) => `${e.ip}\t${e.name}`),
    ...(ip ? [`${ip}\t${[hostname, ...aliases.filter((a) => a !== hostname)].join(' ')}`] : []),
  ];
  return lines.join('\n') + '\n';
}
