/**
 * The pure parts of networking: IPv4 subnets and the host's routes
 * (/proc/net/route's byte order), docker's -p forms, -P from EXPOSE, and the
 * container's /etc/hosts. What they do on a host is
 * test/integration/network.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostRoutes, overlaps, parseSubnet, contains, parseIp, subnetString } from '../../src/runtime/network/ipv4.js';
import { exposedBindings, parsePublish, portString, resolveHostPorts } from '../../src/runtime/network/ports.js';
import { hostsFile, parseAddHost } from '../../src/runtime/network/etcfiles.js';
import { getNetwork, rootTag } from '../../src/runtime/network/store.js';
import { openCtx } from '../../src/context.js';

test('subnets: parse, refuse a host address or a silly prefix, overlap, containment', () => {
  assert.equal(subnetString(parseSubnet('10.66.0.0/16')), '10.66.0.0/16');
  assert.throws(() => parseSubnet('10.66.0.5/16'), /not a network address/);
  assert.throws(() => parseSubnet('10.66.0.0/31'), /invalid subnet/);
  assert.throws(() => parseSubnet('10.66.0.0'), /invalid subnet/);
  assert.throws(() => parseSubnet('300.1.0.0/16'), /invalid subnet/);
  assert.ok(overlaps(parseSubnet('10.251.1.0/24'), parseSubnet('10.251.1.128/25')));
  assert.ok(overlaps(parseSubnet('10.0.0.0/8'), parseSubnet('10.251.1.0/24')));
  assert.ok(!overlaps(parseSubnet('10.251.1.0/24'), parseSubnet('10.251.2.0/24')));
  assert.ok(contains(parseSubnet('10.251.1.0/24'), parseIp('10.251.1.77')!));
  assert.ok(!contains(parseSubnet('10.251.1.0/24'), parseIp('10.251.2.1')!));
});

test("the host's routes from /proc/net/route (little-endian words), the default route left out", () => {
  const text = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  ].join('\n');
  assert.deepEqual(hostRoutes(text).map(subnetString), ['192.0.2.0/24', '172.17.0.0/16']);
});

test('-p: docker forms, protocols, and what is refused', () => {
  assert.deepEqual(parsePublish('80'), { hostIp: '', hostPort: 0, containerPort: 80, protocol: 'tcp' });
  assert.deepEqual(parsePublish('8080:80'), { hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  assert.deepEqual(parsePublish('127.0.0.1:8080:80/udp'), { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'udp' });
  assert.deepEqual(parsePublish('127.0.0.1::80'), { hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' });
  for (const bad of ['', ':80', '80:', 'a:80', '1.2.3.4:5:6:7', '99999:80', '80/sctp', '0', 'x.y.z.w:80:80']) assert.throws(() => parsePublish(bad), /invalid/, bad);
  assert.throws(() => parsePublish('8000-8010:80-90'), /ranges are not supported/);
  assert.equal(portString(parsePublish('127.0.0.1:8080:80')), '127.0.0.1:8080->80/tcp');
});

test('-P: the image EXPOSE keys, tcp by default; a random port is chosen where none is given', () => {
  assert.deepEqual(exposedBindings(['80/tcp', '53/udp', '8080', '7/sctp']).map((b) => `${b.containerPort}/${b.protocol}`), ['80/tcp', '53/udp', '8080/tcp']);
  const [a, b] = resolveHostPorts([parsePublish('80'), parsePublish('81')], () => []);
  assert.ok(a!.hostPort >= 32768 && a!.hostPort <= 60999);
  assert.notEqual(a!.hostPort, b!.hostPort);
  assert.throws(() => resolveHostPorts([parsePublish('40001:80')], () => [parsePublish('40001:90')]), /already in use/);
});

test('/etc/hosts: localhost entries, --add-host, then the container', () => {
  const text = hostsFile('box', '10.66.0.2', [parseAddHost('db:10.1.2.3')]);
  const lines = text.trim().split('\n');
  assert.equal(lines[0], '127.0.0.1\tlocalhost');
  assert.equal(lines.at(-2), '10.1.2.3\tdb');
  assert.equal(lines.at(-1), '10.66.0.2\tbox');
  assert.throws(() => parseAddHost('nocolon'), /invalid --add-host/);
});

test("the default bridge never takes podman's fixed 10.88/16, even for a root whose offset starts there", () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-unit-net-'));
  try {
    // a root path whose tag puts the default network's first candidate at 10.88 (offset 22 of 62)
    let root = '';
    for (let i = 0; !root; i++) if (parseInt(rootTag(path.join(base, `r${i}`)), 16) % 62 === 22) root = path.join(base, `r${i}`);
    const subnet = getNetwork(openCtx(root), 'bridge').subnets[0]!.subnet;
    assert.notEqual(subnet, '10.88.0.0/16');
    assert.match(subnet, /^10\.(6[6-9]|[7-9]\d|1[01]\d|12[0-7])\.0\.0\/16$/);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
