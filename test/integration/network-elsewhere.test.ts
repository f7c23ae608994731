/**
 * A container whose network namespace mount this tsrun cannot see: it was
 * started by a tsrun in another mount namespace (`unshare -m`, private), so
 * /run/tsrun/netns/ID here is a plain file. netavark 1.4 fails on it at the
 * container's missing veth and tears nothing down: the network's NAT rules
 * and its bridge stayed on the host (the cgroup v2 tests leaked two networks
 * per suite run so). tsrun now tears down in a stand-in namespace
 * (network/netavark.ts TEARDOWN_IN): both on its own (`rm`) and in the
 * detached job a dead container's next reader hands the teardown to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TSRUN, tsrunOk, useBusyboxRoot } from '../helpers/cli.js';
import { sameProcessAlive } from '../../src/containers/status.js';
import { until } from '../helpers/wait.js';
import { TEARDOWN_MS } from '../helpers/netlab.js';

const t = useBusyboxRoot();
const root = () => t().root;
const PRIVATE = 'mount --make-rprivate / && exec "$@"';

/** `tsrun run -d … sleep 1000` from a private mount namespace: the container's ID. */
function runElsewhere(): string {
  const r = spawnSync('unshare', ['-m', '--', 'sh', '-c', PRIVATE, 'sh', process.execPath, TSRUN, '--root', root(), 'run', '-d', 'busybox', 'sleep', '1000'], { timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr?.toString());
  return r.stdout.toString().trim();
}

function network(id: string): { subnet: string; bridge: string; netns: string } {
  const s = JSON.parse(fs.readFileSync(path.join(root(), 'containers', id, 'network.json'), 'utf8'));
  const info = Object.values(s.options.network_info as Record<string, { network_interface: string; subnets: { subnet: string }[] }>)[0]!;
  return { subnet: info.subnets[0]!.subnet, bridge: info.network_interface, netns: s.netns };
}

const natRules = (subnet: string) => spawnSync('iptables', ['-t', 'nat', '-S'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(subnet));
const ports = (bridge: string) => (fs.existsSync(`/sys/class/net/${bridge}/brif`) ? fs.readdirSync(`/sys/class/net/${bridge}/brif`) : []);

/** The container and its monitor SIGKILLed by PID (no exit job runs), until its veth has gone with its namespace. */
async function killUnrecorded(id: string, bridge: string): Promise<void> {
  const st = JSON.parse(fs.readFileSync(path.join(root(), 'containers', id, 'state.json'), 'utf8'));
  for (const [pid, start] of [[st.monitorPid, st.monitorStart], [st.pid, st.pidStart]]) if (sameProcessAlive(pid, start)) process.kill(pid, 'SIGKILL');
  await until('the veth to go with the namespace', () => ports(bridge).length === 0, 60_000);
}

test("rm of a container started in another mount namespace takes its network's NAT rules and bridge", async () => {
  const id = runElsewhere();
  const n = network(id);
  assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${n.netns} `), 'its netns mount is not seen here');
  assert.ok(natRules(n.subnet).length > 0, 'set up: NAT rules for its subnet');
  await killUnrecorded(id, n.bridge);
  tsrunOk(root(), ['rm', id]);
  assert.deepEqual(natRules(n.subnet), []);
  assert.ok(!fs.existsSync(`/sys/class/net/${n.bridge}`), `bridge ${n.bridge} removed`);
  assert.deepEqual(fs.readdirSync('/run/tsrun/netns').filter((f) => f.startsWith('.stand-in')), [], 'no stand-in namespace left');
});

test('the detached teardown job does the same for a container found dead', async () => {
  const id = runElsewhere();
  const n = network(id);
  await killUnrecorded(id, n.bridge);
  tsrunOk(root(), ['ps', '-a']); // sees it dead: the teardown goes to a job
  const pending = path.join(root(), 'networks', 'pending');
  await until('the job to finish', () => !fs.existsSync(pending) || !fs.readdirSync(pending).some((f) => f.endsWith('.json')), TEARDOWN_MS);
  assert.deepEqual(natRules(n.subnet), []);
  assert.ok(!fs.existsSync(`/sys/class/net/${n.bridge}`), `bridge ${n.bridge} removed`);
  tsrunOk(root(), ['rm', id]);
});
