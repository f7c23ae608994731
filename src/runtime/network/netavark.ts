/**
 * netavark (podman's network stack: bridges, veths, NAT, port forwarding,
 * firewall rules; aardvark-dns for names on user networks), run as a program.
 * It keeps no state and allocates nothing: tsrun owns the addresses, the
 * network namespace and the setup JSON that teardown needs. Every call holds
 * one host-wide lock (/run/tsrun/netavark.lock, flock(1)): parallel setups on
 * a new network race creating its bridge and chains. The lock is taken by the
 * flock process itself, so a tsrun killed meanwhile never leaves it held and
 * a teardown replayed by another tsrun waits for the setup it undoes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsrunError } from '../../util/errors.js';

/** Where Debian, Fedora and upstream put them (podman's helper_binaries_dir), then PATH. */
const HELPER_DIRS = ['/usr/local/libexec/podman', '/usr/local/lib/podman', '/usr/libexec/podman', '/usr/lib/podman'];
export const NETAVARK_LOCK = '/run/tsrun/netavark.lock';
const LOCK = NETAVARK_LOCK;

function searchDirs(): string[] {
  // TSRUN_NETAVARK_DIRS replaces the search (tests: a host without netavark)
  const env = process.env.TSRUN_NETAVARK_DIRS;
  if (env !== undefined) return env.split(':').filter(Boolean);
  return [...HELPER_DIRS, ...(process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')];
}

function find(name: string): string | undefined {
  for (const d of searchDirs()) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export interface Netavark {
  netavark: string;
  aardvark?: string;
}

export function findNetavark(): Netavark {
  const netavark = find('netavark');
  if (!netavark) {
    throw new TsrunError('UNSUPPORTED', 'bridge networking needs netavark, which is not installed', {
      hint: 'install the netavark and aardvark-dns packages (apt-get install netavark aardvark-dns), or use --network none|host',
    });
  }
  return { netavark, aardvark: find('aardvark-dns') };
}

function args(nv: Netavark, configDir: string, verb: 'setup' | 'teardown', netns: string): string[] {
  return ['-x', '-o', LOCK, nv.netavark, '--config', configDir, ...(nv.aardvark ? ['--aardvark-binary', nv.aardvark] : []), verb, netns];
}

/** netavark's own error text: a JSON {"error": …} on stdout or a line on stderr. */
function failure(verb: string, code: number | null, stdout: string, stderr: string): TsrunError {
  let msg = stderr.trim().split('\n').pop() ?? '';
  try {
    const j = JSON.parse(stdout) as { error?: string };
    if (j.error) msg = j.error;
  } catch {
    /* not JSON */
  }
  msg = msg.replace(/^\[?[A-Z]+\]?\s*/, '').replace(/\s+/g, ' ').trim();
  return new TsrunError('NETWORK', `network ${verb} failed: ${msg || `netavark exited ${code}`}`, { hint: 'see `tsrun network inspect`; run with --debug for details' });
}

function env(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...(process.env.RUST_LOG ? { RUST_LOG: process.env.RUST_LOG } : {}) };
}

/** setup, asynchronously (it runs while the container sets up its filesystem); resolves with netavark's status JSON. */
export function netavarkSetup(nv: Netavark, configDir: string, netns: string, options: unknown): Promise<unknown> {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  const cp = process.getBuiltinModule('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = cp.spawn('flock', args(nv, configDir, 'setup', netns), { stdio: ['pipe', 'pipe', 'pipe'], env: env() });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', (e) => reject(new TsrunError('NETWORK', `cannot run netavark: ${e.message}`, { hint: 'is util-linux (flock) installed?' })));
    child.on('close', (code) => {
      if (code !== 0) return reject(failure('setup', code, out, err));
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(failure('setup', code, out, err));
      }
    });
    child.stdin.on('error', () => {}); // an early exit is reported by 'close'
    child.stdin.end(JSON.stringify(options));
  });
}

/** teardown, synchronously (status refresh and rm are synchronous); errors are returned, not thrown. */
export function netavarkTeardown(nv: Netavark, configDir: string, netns: string, options: { networks?: Record<string, { interface_name?: string }> }): TsrunError | undefined {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  const cp = process.getBuiltinModule('node:child_process') as typeof import('node:child_process');
  const nvArgs = ['--config', configDir, ...(nv.aardvark ? ['--aardvark-binary', nv.aardvark] : [])];
  const argv = ['-x', '-o', LOCK, 'sh', '-c', `${TEARDOWN_IN}\nteardown_in "$@"`, 'sh', netns, containerInterfaces(options), nv.netavark, ...nvArgs];
  const r = cp.spawnSync('flock', argv, { input: JSON.stringify(options), env: env(), timeout: 60_000 });
  if (r.status === 0) return undefined;
  return failure('teardown', r.status, r.stdout?.toString() ?? '', r.stderr?.toString() ?? '');
}

/**
 * `teardown_in NS IFACES NETAVARK ARGS…` (shell; the netavark lock held by
 * the caller, netavark's input on stdin): netavark's teardown in the
 * container's namespace NS. When NS is not a namespace here (the mount was
 * made in another mount namespace: a tsrun run under `unshare -m`, say),
 * netavark 1.4 fails at the container's missing veth and leaves the network's
 * NAT rules and bridge on the host; a throwaway namespace stands in, with a
 * veth named as each of the container's interfaces (IFACES, space-separated)
 * for it to delete. Its veths went with the container's namespace already.
 */
export const TEARDOWN_IN = `
teardown_in() {
  ns=$1 ifs=$2; shift 2
  t=
  if [ "$(stat -f -c %T "$ns" 2> /dev/null)" != nsfs ]; then
    t=$(mktemp /run/tsrun/netns/.stand-in-XXXXXX) || return 1
    if ! unshare --net="$t" sh -c 'n=0; for i; do ip link add "$i" type veth peer name "tsrstandin$n" || exit 1; n=$((n+1)); done' sh $ifs; then
      umount "$t" 2> /dev/null
      rm -f "$t"
      return 1
    fi
    ns=$t
  fi
  "$@" teardown "$ns"
  rc=$?
  if [ -n "$t" ]; then
    umount "$t"
    rm -f "$t"
  fi
  return $rc
}`;

/** The container's interface names in netavark's input (eth0, eth1…), space-separated for TEARDOWN_IN. */
export function containerInterfaces(options: { networks?: Record<string, { interface_name?: string }> }): string {
  return Object.values(options.networks ?? {})
    .map((n) => n.interface_name ?? '')
    .filter((n) => /^[A-Za-z0-9_.-]{1,15}$/.test(n))
    .join(' ');
}

/**
 * Hairpin mode on every port of the bridge (netavark 1.4 leaves it off): a
 * container can then reach its own published port through the host's
 * address, whose DNAT sends the packet back out of the port it came in by.
 */
export function setHairpin(bridge: string): void {
  let ports: string[];
  try {
    ports = fs.readdirSync(`/sys/class/net/${bridge}/brif`);
  } catch {
    return;
  }
  for (const p of ports) {
    try {
      fs.writeFileSync(`/sys/class/net/${bridge}/brif/${p}/hairpin_mode`, '1');
    } catch {
      /* a port going away meanwhile */
    }
  }
}
