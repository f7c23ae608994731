/**
 * Networking on netavark, each part in networks made for it: the default
 * bridge with egress through NAT, published ports (127.0.0.1, a host address
 * the test owns, -P, hairpin), user networks with names, container:, 20
 * containers at once, SIGKILL during start, and bad input. Traffic goes only
 * to loopback, to the containers, and to a namespace this test makes
 * ("outside": a veth pair in 198.18.K.0/30, RFC 2544's benchmark range).
 * Everything made is removed in after(), even when a test fails. (busybox
 * 1.35's wget -T segfaults: timeouts come from timeout(1).)
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tsrun, tsrunOk, tsrunSpawn, FIXTURES, tempRoot, importBusybox, type TempRoot } from '../helpers/cli.js';
import { sleep, until } from '../helpers/wait.js';
import { Outside, fetchText, leftovers as leftoversIn, bridgePorts as bridgePortsIn, removeNetworkLab, retried, waitNoBridgePorts, TEARDOWN_MS } from '../helpers/netlab.js';
import { sameProcessAlive } from '../../src/containers/status.js';

let root: TempRoot | undefined;
const t = () => root!;
const BB = 'busybox';
const K = 100 + (process.pid % 100); // this run's 198.18.K.0/30 and 10.251.K.0/24
const outside = new Outside(K, 't');
const HOST_IP = outside.hostIp;
const OUT_IP = outside.outIp;
const NET = `tn${process.pid}`;
const SUBNET = `10.251.${K}.0/24`;

const run = (args: string[]) => tsrunOk(t().root, args);
const ids = () => run(['ps', '-a', '-q', '--no-trunc']).split('\n').filter(Boolean);
const leftovers = (id: string) => leftoversIn(t().root, id);
const bridgePorts = () => bridgePortsIn(t().root);
const noBridgePorts = () => waitNoBridgePorts(t().root);
/** httpd answers in container `name` (its own loopback: no DNS, no NAT). */
const httpdUp = (name: string) => until(`httpd in ${name}`, () => tsrun(t().root, ['exec', name, 'sh', '-c', 'netstat -ltn | grep -q :80']).code === 0, 30_000);

before(async () => {
  root = tempRoot();
  importBusybox(root.root);
  await outside.start();
  tsrunOk(t().root, ['import', '-c', 'CMD ["sh"]', '-c', 'EXPOSE 80', path.join(FIXTURES, 'busybox-rootfs.tar'), 'bbweb']);
});

after(() => {
  if (root) removeNetworkLab(t().root);
  outside.stop();
  root?.cleanup();
});

describe('networking', { concurrency: false }, () => {
  it('the default bridge: an address, /etc/hosts and resolv.conf, egress through NAT; nothing left after --rm', async () => {
    const out = run(['run', '--rm', '--name', 'egress', '-h', 'box1', BB, 'sh', '-c', `ip -4 -o addr show eth0; echo ==; cat /etc/hosts; echo ==; cat /etc/resolv.conf; echo ==; timeout 15 wget -qO- http://${OUT_IP}:8080/`]);
    const [addr, hosts, resolv, seen] = out.split('==\n');
    const ip = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(addr!)?.[1];
    assert.ok(ip, addr);
    const bridge = JSON.parse(fs.readFileSync(path.join(t().root, 'networks', 'bridge.json'), 'utf8')) as { subnets: { subnet: string }[] };
    assert.ok(!bridge.subnets[0]!.subnet.startsWith('172.17.') && !bridge.subnets[0]!.subnet.startsWith('10.88.'));
    assert.match(hosts!, new RegExp(`^${ip!.replace(/\./g, '\\.')}\\tbox1$`, 'm'));
    assert.doesNotMatch(resolv!, /nameserver 127\./);
    assert.match(resolv!, /nameserver /);
    assert.equal(seen!.trim(), HOST_IP, 'the outside sees the host address: NAT');
    // the teardown runs after run returns (network/pending.ts), and ends soon
    const pending = () => fs.readdirSync(path.join(t().root, 'networks', 'pending')).filter((f) => f.endsWith('.json'));
    await until('the --rm container\'s teardown to finish', () => bridgePorts().length === 0 && pending().length === 0, TEARDOWN_MS).catch(() => {});
    assert.deepEqual(bridgePorts(), []);
    assert.deepEqual(pending(), []);
  });

  it('-p on 127.0.0.1 and on a host address, -P with EXPOSE, hairpin; port, ps and inspect show them', async () => {
    run(['network', 'create', '--subnet', SUBNET, NET]);
    const id = run(['run', '-d', '--name', 'web', '--network', NET, '-p', '127.0.0.1::80', '-p', `${HOST_IP}::80`, '-P', 'bbweb', 'sh', '-c', 'mkdir /www; echo hello > /www/index.html; exec httpd -f -p 80 -h /www']).trim();
    const lines = run(['port', 'web']).trim().split('\n');
    assert.equal(lines.length, 3, lines.join('|'));
    const hostPort = (ip: string) => Number(lines.find((l) => l.includes(`-> ${ip}:`))!.split(':').pop());
    const local = hostPort('127.0.0.1');
    const onHost = hostPort(HOST_IP);
    const all = hostPort('0.0.0.0');
    await httpdUp('web');
    assert.equal((await fetchText(`http://127.0.0.1:${local}/`)).trim(), 'hello');
    assert.equal((await fetchText(`http://${HOST_IP}:${onHost}/`)).trim(), 'hello');
    assert.equal((await fetchText(`http://${HOST_IP}:${all}/`)).trim(), 'hello', '-P publishes EXPOSE 80 on every address');
    // hairpin: the container reaches its own published port through the host's address
    assert.equal(run(['exec', 'web', 'timeout', '15', 'wget', '-qO-', `http://${HOST_IP}:${onHost}/`]).trim(), 'hello');
    assert.match(run(['ps']), new RegExp(`127\\.0\\.0\\.1:${local}->80/tcp`));
    const ns = JSON.parse(run(['inspect', '-f', '{{json .NetworkSettings}}', 'web'])) as { Ports: Record<string, { HostIp: string; HostPort: string }[]>; Networks: Record<string, { IPAddress: string; Gateway: string }> };
    assert.ok(ns.Ports['80/tcp']!.some((p) => p.HostIp === '127.0.0.1' && p.HostPort === String(local)));
    assert.match(ns.Networks[NET]!.IPAddress, /^10\.251\./);
    assert.equal(ns.Networks[NET]!.Gateway, `10.251.${K}.1`);
    run(['rm', '-f', 'web']);
    assert.deepEqual(leftovers(id), []);
  });

  it('a user network: containers find each other by name; --network container: shares the namespace; --ip', async () => {
    run(['run', '-d', '--name', 'srv', '--network', NET, '--ip', `10.251.${K}.77`, 'bbweb', 'sh', '-c', 'mkdir /www; echo by-name > /www/index.html; exec httpd -f -p 80 -h /www']);
    await httpdUp('srv');
    // lookups retried (netlab's retried): aardvark-dns 1.4 drops queries while netavark reloads it,
    // which the teardown job of the container before may do at just that moment
    assert.equal(run(['run', '--rm', '--network', NET, BB, 'sh', '-c', retried('timeout 15 wget -qO- http://srv/')]).trim(), 'by-name');
    assert.match(run(['run', '--rm', '--network', NET, BB, 'sh', '-c', retried('ping -c1 -W3 srv')]), new RegExp(`10\\.251\\.${K}\\.77`));
    assert.equal(run(['run', '--rm', '--network', 'container:srv', BB, 'timeout', '15', 'wget', '-qO-', 'http://127.0.0.1/']).trim(), 'by-name');
    run(['rm', '-f', 'srv']);
    await noBridgePorts();
  });

  it('20 containers started at once get distinct addresses and reach each other', async () => {
    const procs = Array.from({ length: 20 }, (_, i) => tsrunSpawn(t().root, ['run', '-d', '--name', `par${i}`, '--network', NET, BB, 'sleep', '300']));
    const codes = await Promise.all(procs.map((p) => new Promise<number>((r) => p.on('close', (c) => r(c ?? -1)))));
    assert.deepEqual(codes, Array(20).fill(0));
    const ips = Array.from({ length: 20 }, (_, i) => run(['inspect', '-f', `{{json .NetworkSettings}}`, `par${i}`])).map((j) => (JSON.parse(j) as { Networks: Record<string, { IPAddress: string }> }).Networks[NET]!.IPAddress);
    assert.equal(new Set(ips).size, 20, ips.join(' '));
    // -W5: an answer from a container on a loaded machine may take more than a second or two
    const script = ips.map((ip) => `ping -c1 -W5 ${ip} >/dev/null && echo ok`).join('; ');
    assert.equal(run(['exec', 'par0', 'sh', '-c', script]).trim().split('\n').length, 20);
    run(['rm', '-f', ...Array.from({ length: 20 }, (_, i) => `par${i}`)]);
    await noBridgePorts();
    assert.deepEqual(fs.readdirSync(path.join(t().root, 'networks', 'leases', NET)), []);
  });

  it('SIGKILL of tsrun or of the monitor during start leaves nothing after the next ps and rm -f', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const before = new Set(ids());
      const p = tsrunSpawn(t().root, ['run', '-d', '--network', NET, '-p', '80', BB, 'sleep', '300']);
      // listen for close before the kill: a run that ends first must not leave this waiting forever
      const closed = new Promise((r) => p.on('close', r));
      await sleep(40 + 50 * i);
      p.kill('SIGKILL');
      await closed;
      seen.push(...ids().filter((x) => !before.has(x)));
    }
    // the monitor of a running container, killed
    const id = run(['run', '-d', '--network', NET, BB, 'sleep', '300']).trim();
    const st = JSON.parse(fs.readFileSync(path.join(t().root, 'containers', id, 'state.json'), 'utf8')) as { monitorPid: number; pid: number; pidStart: number };
    process.kill(st.monitorPid, 'SIGKILL');
    seen.push(id);
    // the container dies with its monitor (its PID namespace's init); ps must see it dead, not dying
    await until('the container to die with its monitor', () => !sameProcessAlive(st.pid, st.pidStart), 30_000);
    run(['ps', '-a']);
    // the next ps starts the teardown of a container whose monitor died (a detached job: network/pending.ts)
    await until('the teardown ps started', () => leftovers(id).length === 0, TEARDOWN_MS).catch(() => {});
    assert.deepEqual(leftovers(id), [], 'the next ps tears down a container whose monitor died');
    if (seen.length) run(['rm', '-f', ...seen]);
    for (const x of seen) assert.deepEqual(leftovers(x), [], x);
    await noBridgePorts();
  });

  it('rm gives back an address a start killed before recording it had taken (a lease naming the container, no network record)', () => {
    const id = run(['create', '--network', NET, BB, 'true']).trim();
    // what a run SIGKILLed between allocateIp and writing network.json leaves: the lease file alone
    const lease = path.join(t().root, 'networks', 'leases', NET, `10.251.${K}.200`);
    fs.mkdirSync(path.dirname(lease), { recursive: true });
    fs.writeFileSync(lease, `${id}\n${fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}\n`);
    const other = path.join(path.dirname(lease), `10.251.${K}.201`);
    fs.writeFileSync(other, `${'b'.repeat(64)}\nx\n`); // another container's: left alone
    run(['rm', id]);
    assert.equal(fs.existsSync(lease), false, 'the lease of the removed container is gone');
    assert.equal(fs.existsSync(other), true);
    fs.rmSync(other);
  });

  it('bad input: one line, status 125 (run) or 1 (network verbs, as docker), nothing made', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const taken = (blocker.address() as net.AddressInfo).port;
    const before = ids();
    const netsBefore = fs.readdirSync(path.join(t().root, 'networks')).sort();
    const cases: [string[], RegExp][] = [
      [['network', 'create', '--subnet', `10.251.${K}.128/25`, `${NET}x`], /overlaps network/],
      [['run', '--rm', '--network', NET, '-p', `127.0.0.1:${taken}:80`, BB, 'true'], /already in use/],
      [['run', '--rm', '--network', NET, '-p', '80:80:80:80', BB, 'true'], /invalid -p/],
      [['run', '--rm', '--network', NET, '-p', '99999:80', BB, 'true'], /invalid port/],
      [['run', '--rm', '--network', 'nosuchnet', BB, 'true'], /network nosuchnet not found/],
      [['run', '--rm', '--network', NET, '--ip', '10.1.2.3', BB, 'true'], /not a host address/],
    ];
    try {
      for (const [args, re] of cases) {
        const r = tsrun(t().root, args);
        assert.equal(r.code, args[0] === 'run' ? 125 : 1, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, re);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      }
      const user = run(['create', '--network', NET, BB, 'true']).trim();
      const r = tsrun(t().root, ['network', 'rm', NET]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /in use/);
      run(['rm', user]);
    } finally {
      blocker.close();
    }
    assert.deepEqual(ids(), before);
    assert.deepEqual(fs.readdirSync(path.join(t().root, 'networks')).sort(), netsBefore);
    assert.deepEqual(fs.readdirSync(path.join(t().root, 'networks', 'leases', NET)), []);
    await noBridgePorts();
  });

  it('without netavark: bridge fails naming the package, none and host still work', () => {
    const env = { TSRUN_NETAVARK_DIRS: '/nonexistent' };
    const r = tsrun(t().root, ['run', '--rm', BB, 'true'], { env });
    assert.equal(r.code, 125);
    assert.match(r.stderr, /netavark/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(tsrun(t().root, ['run', '--rm', '--network', 'none', BB, 'true'], { env }).code, 0);
    assert.equal(tsrun(t().root, ['run', '--rm', '--network', 'host', BB, 'true'], { env }).code, 0);
  });

  it('network ls, inspect, rm and prune', () => {
    assert.match(run(['network', 'ls']), new RegExp(`\\b${NET}\\b`));
    const [info] = JSON.parse(run(['network', 'inspect', NET])) as { IPAM: { Config: { Subnet: string }[] } }[];
    assert.equal(info!.IPAM.Config[0]!.Subnet, SUBNET);
    assert.equal(run(['network', 'rm', NET]).trim(), NET);
    assert.doesNotMatch(run(['network', 'ls']), new RegExp(`\\b${NET}\\b`));
    run(['network', 'create', '--subnet', `10.252.${K}.0/24`, `${NET}p`]);
    assert.match(run(['network', 'prune', '-f']), new RegExp(`${NET}p`));
    assert.doesNotMatch(run(['network', 'ls']), new RegExp(`${NET}p`));
  });
});
