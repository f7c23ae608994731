/**
 * A build's RUN steps on the default network share one network namespace (one netavark
 * setup and teardown per build: src/runtime/network/shared.ts), torn down when the build
 * ends however it ends: success, a failing RUN, Ctrl-C, and a killed tsrun (settled by the
 * next build). `RUN --network=none|host` keep their own.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, tsrunOk, tsrunSpawn, importBusybox, type TempRoot } from '../helpers/cli.js';
import { bridgePorts, leftovers, removeNetworkLab, TEARDOWN_MS } from '../helpers/netlab.js';
import { until } from '../helpers/wait.js';

let tr: TempRoot;

function context(name: string, dockerfile: string): string {
  const dir = path.join(tr.scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

const sharedDir = () => path.join(tr.root, 'networks', 'shared');
const pendingDir = () => path.join(tr.root, 'networks', 'pending');
const entries = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d) : []);

/** The IDs of the shared namespaces whose records appear while a build runs (polled). */
function watchShared(): { ids: Set<string>; stop(): void } {
  const ids = new Set<string>();
  const look = () => {
    for (const n of entries(sharedDir())) if (n.endsWith('.json')) ids.add(n.slice(0, -5));
  };
  const timer = setInterval(look, 10);
  return { ids, stop: () => (look(), clearInterval(timer)) };
}

/** Run a build to its end, watching for shared namespaces; `onOutput` may act on its stderr. */
async function watchedBuild(args: string[], onOutput?: (err: string, child: ReturnType<typeof tsrunSpawn>) => void): Promise<{ code: number | null; err: string; ids: Set<string> }> {
  const w = watchShared();
  const child = tsrunSpawn(tr.root, ['build', ...args]);
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    onOutput?.(err, child);
  });
  child.stdout.resume();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  w.stop();
  return { code, err, ids: w.ids };
}

/**
 * Everything the build's namespace held is gone, once its teardown job has ended: the job waits for
 * the host-wide netavark lock, which every network setup on the machine takes (TEARDOWN_MS).
 */
async function assertTornDown(ids: Set<string>): Promise<void> {
  await until('the teardown job to end', () => !entries(pendingDir()).length && !entries(sharedDir()).length, TEARDOWN_MS).catch(() => {});
  assert.deepEqual(entries(sharedDir()), [], 'a shared namespace record is left');
  assert.deepEqual(entries(pendingDir()), [], 'a teardown is still pending');
  for (const id of ids) assert.deepEqual(leftovers(tr.root, id), [], `namespace ${id} left things behind`);
  assert.deepEqual(bridgePorts(tr.root), []);
  assert.deepEqual(entries(path.join(tr.root, 'networks', 'leases', 'bridge')), []);
}

before(() => {
  tr = tempRoot('tsrun-build-net-');
  importBusybox(tr.root);
});
after(() => {
  removeNetworkLab(tr.root);
  tr.cleanup();
});

describe('build: one network namespace for the RUN steps on the default network', () => {
  test('RUN steps of every stage see the same namespace and address; --network=none|host per RUN do not', async () => {
    const nsAndIp = (n: string) => `readlink /proc/self/ns/net > /ns${n} && ip -4 -o addr show eth0 | awk '{print $4}' > /ip${n}`;
    const dir = context(
      'same',
      [
        'FROM busybox AS first',
        `RUN ${nsAndIp('a')}`,
        'FROM busybox',
        'COPY --from=first /nsa /ipa /',
        `RUN ${nsAndIp('1')}`,
        `RUN ${nsAndIp('2')} && ping -c1 -W2 $(cut -d/ -f1 /ip1) > /dev/null`,
        "RUN --network=none readlink /proc/self/ns/net > /ns3 && ls /sys/class/net | tr '\\n' ' ' > /nets3",
        'RUN --network=host readlink /proc/self/ns/net > /ns4',
      ].join('\n') + '\n',
    );
    const r = await watchedBuild(['-t', 'same:1', dir]);
    assert.equal(r.code, 0, r.err);
    const file = (f: string) => tsrunOk(tr.root, ['run', '--rm', '--network', 'none', 'same:1', 'cat', f]).trim();
    const host = fs.readlinkSync('/proc/self/ns/net');
    assert.match(file('/ns1'), /^net:\[\d+\]$/);
    assert.notEqual(file('/ns1'), host);
    assert.equal(file('/ns2'), file('/ns1'));
    assert.equal(file('/nsa'), file('/ns1'), 'another stage of the same build shares it too');
    assert.match(file('/ip1'), /^\d+\.\d+\.\d+\.\d+\/\d+$/);
    assert.equal(file('/ip2'), file('/ip1'));
    assert.equal(file('/ipa'), file('/ip1'));
    assert.notEqual(file('/ns3'), file('/ns1'));
    assert.equal(file('/nets3'), 'lo');
    assert.equal(file('/ns4'), host);
    assert.equal(r.ids.size, 1, `namespaces seen: ${[...r.ids].join(' ')}`);
    await assertTornDown(r.ids);
  });

  test('build --network none makes no namespace', async () => {
    const dir = context('none', 'FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n');
    const r = await watchedBuild(['--network', 'none', '--no-cache', dir]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.ids.size, 0);
  });

  test('a failing RUN: the namespace is torn down, the exit status is the RUN\'s', async () => {
    const dir = context('fail', 'FROM busybox\nRUN echo ok > /ok\nRUN sleep 0.3; exit 3\n');
    const r = await watchedBuild(['--no-cache', dir]);
    assert.equal(r.code, 3, r.err);
    assert.equal(r.ids.size, 1);
    await assertTornDown(r.ids);
  });

  test('Ctrl-C during a RUN: exit 130, the namespace torn down, no container left', async () => {
    const dir = context('sigint', 'FROM busybox\nRUN echo started && sleep 100\n');
    let sent = false;
    const r = await watchedBuild(['--no-cache', dir], (err, child) => {
      if (!sent && / started$/m.test(err)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    assert.ok(sent, r.err);
    assert.equal(r.code, 130, r.err);
    assert.equal(r.ids.size, 1);
    await assertTornDown(r.ids);
    assert.equal(tsrunOk(tr.root, ['ps', '-aq']), '');
  });

  test('a tsrun killed mid-build: the next build settles the namespace it left', async () => {
    const dir = context('killed', 'FROM busybox\nRUN echo started && sleep 100\n');
    let sent = false;
    const r = await watchedBuild(['--no-cache', dir], (err, child) => {
      if (!sent && / started$/m.test(err)) {
        sent = true;
        child.kill('SIGKILL');
      }
    });
    assert.ok(sent, r.err);
    assert.equal(r.ids.size, 1);
    const [orphan] = [...r.ids];
    assert.deepEqual(entries(sharedDir()), [`${orphan}.json`], 'the killed build left its record');
    // its RUN container is left as after any killed build: rm -f removes it
    const left = tsrunOk(tr.root, ['ps', '-aq']).split('\n').filter(Boolean);
    if (left.length) tsrunOk(tr.root, ['rm', '-f', ...left]);
    const next = await watchedBuild(['--no-cache', context('after-kill', 'FROM busybox\nRUN true\n')]);
    assert.equal(next.code, 0, next.err);
    await assertTornDown(new Set([orphan!, ...next.ids]));
  });
});

test('bad --network for build is refused before anything is made', () => {
  const r = tsrun(tr.root, ['build', '--network', 'bridge0', context('badnet', 'FROM busybox\n')]);
  assert.notEqual(r.code, 0);
  assert.deepEqual(entries(sharedDir()), []);
});
