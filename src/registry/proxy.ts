/**
 * HTTP_PROXY / HTTPS_PROXY / NO_PROXY (and their lower-case forms) for registry traffic, with the
 * rules of Go's net/http ProxyFromEnvironment (golang.org/x/net/http/httpproxy), which docker,
 * podman and skopeo all use, so one environment means the same to each of them:
 *
 * - the upper-case name wins over the lower-case one; https URLs use HTTPS_PROXY, http URLs HTTP_PROXY;
 *   a proxy without a scheme is http://;
 * - never for `localhost` or a loopback address;
 * - NO_PROXY: comma-separated; `*` matches every host; an IP or CIDR (`10.0.0.0/8`); a name matches
 *   itself and its subdomains (`example.com`), with a leading dot only its subdomains
 *   (`.example.com`), `*.example.com` as `.example.com`; any of them may end in `:PORT`.
 *
 * The proxy itself is undici's ProxyAgent (CONNECT tunnels), loaded only when a proxy applies:
 * the global fetch has no proxy support, and Node 20 ships undici without exposing its ProxyAgent.
 */
import net from 'node:net';
import { createRequire } from 'node:module';

type Env = Record<string, string | undefined>;

function envAny(env: Env, ...names: string[]): string {
  for (const n of names) {
    const v = env[n];
    if (v) return v;
  }
  return '';
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1' || /^(0:){7}1$/.test(host);
  return false;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsS] = cidr.split('/');
  const bits = Number(bitsS);
  if (!base || !Number.isInteger(bits)) return false;
  if (net.isIPv4(ip) && net.isIPv4(base) && bits >= 0 && bits <= 32) {
    if (bits === 0) return true;
    const mask = bits === 32 ? 0xffffffff : (~(2 ** (32 - bits) - 1) >>> 0);
    return ((ipv4ToInt(ip) & mask) >>> 0) === ((ipv4ToInt(base) & mask) >>> 0);
  }
  if (net.isIPv6(ip) && net.isIPv6(base)) {
    const bl = new net.BlockList();
    bl.addSubnet(base, bits, 'ipv6');
    return bl.check(ip, 'ipv6');
  }
  return false;
}

/** Does NO_PROXY exempt host:port? */
export function noProxyMatches(noProxy: string, host: string, port: string): boolean {
  host = host.toLowerCase();
  for (let entry of noProxy.split(',')) {
    entry = entry.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      if (inCidr(host, entry)) return true;
      continue;
    }
    let ePort = '';
    // host:port, [v6]:port; a bare v6 address has several colons and no brackets
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? (entry.split(':').length === 2 ? /^([^:]+):(\d+)$/.exec(entry) : null);
    if (m) {
      entry = m[1]!;
      ePort = m[2] ?? '';
    }
    if (ePort && ePort !== port) continue;
    if (net.isIP(entry)) {
      if (entry === host) return true;
      continue;
    }
    if (entry.startsWith('*.')) entry = entry.slice(1);
    if (entry.startsWith('.')) {
      if (host.endsWith(entry)) return true;
    } else if (host === entry || host.endsWith('.' + entry)) {
      return true;
    }
  }
  return false;
}

/** The proxy URL for a request to url, or undefined for a direct connection. */
export function proxyFor(url: string, env: Env = process.env): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const https = u.protocol === 'https:';
  const proxy = https ? envAny(env, 'HTTPS_PROXY', 'https_proxy') : envAny(env, 'HTTP_PROXY', 'http_proxy');
  if (!proxy) return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (isLoopback(host)) return undefined;
  const port = u.port || (https ? '443' : '80');
  if (noProxyMatches(envAny(env, 'NO_PROXY', 'no_proxy'), host, port)) return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`;
}

type Fetch = typeof fetch;
const agents = new Map<string, unknown>();
let undiciFetch: Fetch | undefined;

/** fetch through the proxy at proxyUrl (one agent per proxy, kept for the process's life). */
export function proxiedFetch(proxyUrl: string): (url: string, init: RequestInit) => Promise<Response> {
  // require, not import(): the CLI's bundle is compiled as a function, where import() has no loader
  const undici = createRequire(import.meta.url)('undici') as typeof import('undici');
  let agent = agents.get(proxyUrl);
  if (!agent) {
    agent = new undici.ProxyAgent(proxyUrl);
    agents.set(proxyUrl, agent);
  }
  undiciFetch ??= undici.fetch as unknown as Fetch;
  return (url, init) => undiciFetch!(url, { ...init, dispatcher: agent } as RequestInit);
}
