/**
 * A small network lab for networking tests: an "outside" namespace joined to
 * the host by a veth pair in 198.18.K.0/30 (RFC 2544's benchmark range, never
 * routed), with an HTTP server that answers each request with the address it
 * came from; and the checks for what a container's network may leak. Traffic
 * stays on the host, its containers and this namespace.
 */
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { tsrun } from './cli.js';
import { until } from './wait.js';

export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
}

export function fetchText(url: string, ms = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: ms }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout fetching ${url}`)));
    req.on('error', reject);
  });
}

export class Outside {
  readonly ns: string;
  readonly hostIf: string;
  readonly outIf: string;
  readonly hostIp: string;
  readonly outIp: string;
  private server: ChildProcess | undefined;

  /** k: this test's third octet (distinct per test file and process). */
  constructor(readonly k: number, tag: string) {
    const n = process.pid % 100000;
    this.ns = `tsr${tag}-${process.pid}`;
    this.hostIf = `tsr${tag}h${n}`;
    this.outIf = `tsr${tag}o${n}`;
    this.hostIp = `198.18.${k}.1`;
    this.outIp = `198.18.${k}.2`;
  }

  /** Make the namespace and its server (port 8080); wait until it listens. */
  async start(): Promise<void> {
    spawnSync('ip', ['netns', 'del', this.ns]);
    sh('ip', ['netns', 'add', this.ns]);
    sh('ip', ['link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', this.outIf, 'netns', this.ns]);
    sh('ip', ['addr', 'add', `${this.hostIp}/30`, 'dev', this.hostIf]);
    sh('ip', ['link', 'set', this.hostIf, 'up']);
    sh('ip', ['-n', this.ns, 'addr', 'add', `${this.outIp}/30`, 'dev', this.outIf]);
    sh('ip', ['-n', this.ns, 'link', 'set', this.outIf, 'up']);
    sh('ip', ['-n', this.ns, 'link', 'set', 'lo', 'up']);
    const js = `require('http').createServer((q, s) => s.end(q.socket.remoteAddress)).listen(8080, '${this.outIp}')`;
    this.server = spawn('ip', ['netns', 'exec', this.ns, process.execPath, '-e', js], { stdio: 'ignore' });
    await until('the outside server', () => spawnSync('ip', ['netns', 'exec', this.ns, 'ss', '-ltn']).stdout.toString().includes(`${this.outIp}:8080`));
  }

  stop(): void {
    this.server?.kill('SIGKILL');
    spawnSync('ip', ['link', 'del', this.hostIf]);
    spawnSync('ip', ['netns', 'del', this.ns]);
  }
}

/** Whatever of a container's network could leak: its lease, netns file and mount, iptables rules. */
export function leftovers(root: string, id: string): string[] {
  const out: string[] = [];
  const leases = path.join(root, 'networks', 'leases');
  if (fs.existsSync(leases)) {
    for (const n of fs.readdirSync(leases)) for (const ip of fs.readdirSync(path.join(leases, n))) if (fs.readFileSync(path.join(leases, n, ip), 'utf8').startsWith(id)) out.push(`lease ${n}/${ip}`);
  }
  if (fs.existsSync(`/run/tsrun/netns/${id}`)) out.push('netns file');
  if (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(`/run/tsrun/netns/${id}`)) out.push('netns mount');
  const rules = sh('iptables-save', []).split('\n').filter((l) => l.includes(id));
  out.push(...rules.map((r) => `rule ${r}`));
  return out;
}

/** The bridge devices of a root's networks. */
function bridges(root: string): string[] {
  const dir = path.join(root, 'networks');
  const out: string[] = [];
  for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (f.endsWith('.json')) out.push((JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { network_interface: string }).network_interface);
  }
  return out;
}

/** Ports (veths) still on the bridges of a root's networks. */
export function bridgePorts(root: string): string[] {
  const out: string[] = [];
  for (const br of bridges(root)) if (fs.existsSync(`/sys/class/net/${br}/brif`)) out.push(...fs.readdirSync(`/sys/class/net/${br}/brif`).map((p) => `${br}/${p}`));
  return out;
}

/**
 * How long a test waits for what a teardown job does after the command that started it returned
 * (network/pending.ts): the job waits for the host-wide netavark lock, which every setup and
 * teardown of every root on the machine takes, so on a loaded CI machine this can take seconds.
 */
export const TEARDOWN_MS = 60_000;

/** No veth left on a root's bridges, once the teardowns handed to jobs (after --rm runs) have finished. */
export async function waitNoBridgePorts(root: string): Promise<void> {
  await until('the teardown jobs to remove the veths', () => bridgePorts(root).length === 0, TEARDOWN_MS).catch(() => {});
  if (bridgePorts(root).length) throw new Error(`veths left on the bridges after ${TEARDOWN_MS} ms: ${bridgePorts(root).join(' ')}`);
}

/**
 * A shell line for a busybox container that runs `cmd` until it succeeds, for up to 30 tries half a
 * second apart (then fails). For name lookups through aardvark-dns: netavark reloads aardvark-dns on
 * every setup and teardown on a network, including the teardown job of a container that ended just
 * before (pending.ts), and a query that arrives while it reloads gets no answer ("bad address"). A
 * resolver would retry; so does this, and the test still checks what the name resolves to.
 */
export function retried(cmd: string): string {
  return `n=0; until ${cmd}; do n=$((n+1)); [ $n -lt 30 ] || exit 1; sleep 0.5; done`;
}

/** after(): remove a root's containers (their teardown removes veths, rules, leases), then its bridges. */
export function removeNetworkLab(root: string): void {
  const all = tsrun(root, ['ps', '-a', '-q', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (all.length) tsrun(root, ['rm', '-f', ...all]);
  for (const br of bridges(root)) spawnSync('ip', ['link', 'del', br]);
}
