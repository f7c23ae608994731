/**
 * Network verbs and options beyond the basics of network.test.ts, each on
 * networks made for it: `network connect`/`disconnect` of a stopped
 * container (two interfaces, then one), refused for a running one;
 * `--internal` (no way out, but the members reach each other by name);
 * `--network-alias`; a detached container that exits on its own gives its
 * address back with no command after it (its monitor hands over to
 * `__on-exit`); the teardown a foreground run hands to a detached job
 * (network/pending.ts): the next run may reuse its host port and --ip at
 * once, and a job that dies is replayed by `network rm`. Traffic goes only to the containers
 * and to the "outside" namespace this test makes (test/helpers/netlab.ts).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { tsrun, tsrunOk, tsrunSpawn, tempRoot, importBusybox, type TempRoot } from '../helpers/cli.js';
import { Outside, bridgePorts, leftovers, removeNetworkLab, retried, TEARDOWN_MS } from '../helpers/netlab.js';
import { until } from '../helpers/wait.js';
import { freePort } from '../helpers/ports.js';
import { rootTag } from '../../src/runtime/network/store.js';

let root: TempRoot | undefined;
const t = () => root!;
const BB = 'busybox';
const K = 200 + (process.pid % 50); // 198.18.K.0/30 and 10.253-255.K.0/24: apart from network.test.ts's
const outside = new Outside(K, 'v');
const A = `tva${process.pid}`;
const B = `tvb${process.pid}`;
const INT = `tvi${process.pid}`;
const run = (args: string[]) => tsrunOk(t().root, args);

before(async () => {
  root = tempRoot();
  importBusybox(root.root);
  await outside.start();
  run(['network', 'create', '--subnet', `10.253.${K}.0/24`, A]);
  run(['network', 'create', '--subnet', `10.254.${K}.0/24`, B]);
  run(['network', 'create', '--internal', '--subnet', `10.255.${K}.0/24`, INT]);
});

after(() => {
  if (root) removeNetworkLab(t().root);
  outside.stop();
  root?.cleanup();
});

/** The IPv4 addresses of a container's interfaces (ip -o output), sorted. */
function addrs(out: string): string[] {
  return [...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!).filter((a) => !a.startsWith('127.')).sort();
}

describe('network verbs and options', { concurrency: false }, () => {
  it('connect and disconnect a stopped container: two interfaces, then one; refused while it runs', () => {
    run(['create', '--name', 'multi', '--network', A, BB, 'ip', '-4', '-o', 'addr']);
    run(['network', 'connect', B, 'multi']);
    const both = addrs(run(['start', '-a', 'multi']));
    assert.equal(both.length, 2, both.join(' '));
    assert.ok(both.some((a) => a.startsWith(`10.253.${K}.`)) && both.some((a) => a.startsWith(`10.254.${K}.`)), both.join(' '));
    const nets = JSON.parse(run(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'multi'])) as Record<string, unknown>;
    assert.deepEqual(Object.keys(nets).sort(), [A, B].sort());
    run(['network', 'disconnect', A, 'multi']);
    const one = addrs(run(['start', '-a', 'multi']));
    assert.equal(one.length, 1, one.join(' '));
    assert.match(one[0]!, new RegExp(`^10\\.254\\.${K}\\.`));
    // connecting twice, disconnecting what is not connected: docker's errors, nothing changed
    const twice = tsrun(t().root, ['network', 'connect', B, 'multi']);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /already connected/);
    const notOn = tsrun(t().root, ['network', 'disconnect', A, 'multi']);
    assert.equal(notOn.code, 1);
    assert.match(notOn.stderr, /not connected/);

    const id = run(['run', '-d', '--name', 'live', '--network', A, BB, 'sleep', '300']).trim();
    const r = tsrun(t().root, ['network', 'connect', B, 'live']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /running container/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    run(['rm', '-f', 'live', 'multi']);
    assert.deepEqual(leftovers(t().root, id), []);
  });

  it('--internal: no way out, but the members reach each other by name', () => {
    const out = `${outside.outIp}:8080`;
    // the control: a normal user network gets out through NAT
    assert.equal(run(['run', '--rm', '--network', A, BB, 'timeout', '15', 'wget', '-qO-', `http://${out}/`]).trim(), outside.hostIp);
    const inside = tsrun(t().root, ['run', '--rm', '--network', INT, BB, 'timeout', '3', 'wget', '-qO-', `http://${out}/`]);
    assert.notEqual(inside.code, 0, `an internal network reached ${out}: ${inside.stdout}`);
    run(['run', '-d', '--name', 'peer', '--network', INT, BB, 'sleep', '300']);
    // retried: aardvark-dns 1.4 drops queries while netavark reloads it (netlab's retried)
    const ping = run(['run', '--rm', '--network', INT, BB, 'sh', '-c', retried('ping -c1 -W3 peer')]);
    assert.match(ping, new RegExp(`10\\.255\\.${K}\\.`));
    const [info] = JSON.parse(run(['network', 'inspect', INT])) as { Internal: boolean }[];
    assert.equal(info!.Internal, true);
    run(['rm', '-f', 'peer']);
  });

  it('--network-alias: other containers find it by the alias; inspect shows it; refused on the default bridge', () => {
    run(['run', '-d', '--name', 'aliased', '--network', A, '--network-alias', 'db', '--network-alias', 'db.internal', BB, 'sleep', '300']);
    const seen = run(['run', '--rm', '--network', A, BB, 'sh', '-c', `for n in db db.internal; do (${retried('ping -c1 -W3 $n >/dev/null')}) && echo ok; done`]);
    assert.equal(seen.trim(), 'ok\nok');
    const ep = JSON.parse(run(['inspect', '-f', `{{json (index .NetworkSettings.Networks "${A}")}}`, 'aliased'])) as { Aliases: string[]; DNSNames: string[] };
    assert.ok(ep.Aliases.includes('db') && ep.DNSNames.includes('aliased') && ep.DNSNames.includes('db.internal'), JSON.stringify(ep));
    run(['rm', '-f', 'aliased']);
    const r = tsrun(t().root, ['run', '--rm', '--network-alias', 'x', BB, 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /user defined networks/);
    const bad = tsrun(t().root, ['run', '--rm', '--network', A, '--network-alias', 'a b', BB, 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid --network-alias/);
  });

  it('a detached container that exits on its own gives its address back, with no command after it', async () => {
    const id = run(['run', '-d', '--network', A, '-p', '127.0.0.1::80', BB, 'sleep', '0.3']).trim();
    // no tsrun command may run in between (each would replay the teardown itself): look from outside
    await until('the lease, veth and rules of the exited container to go', () => leftovers(t().root, id).length === 0, TEARDOWN_MS);
    assert.deepEqual(bridgePorts(t().root), []);
    assert.match(run(['ps', '-a', '--filter', `id=${id}`, '--format', '{{.Status}}']), /Exited \(0\)/);
    run(['rm', id]);
  });

  it("two roots' default bridges keep their own NAT: one root's last container going does not cut the other's egress", async () => {
    const other = tempRoot();
    try {
      importBusybox(other.root);
      run(['run', '-d', '--name', 'stay', BB, 'sleep', '300']);
      tsrunOk(other.root, ['run', '--rm', BB, 'true']); // the other root's bridge loses its last container
      const pending = path.join(other.root, 'networks', 'pending');
      await until('the other root\'s teardown', () => !fs.existsSync(pending) || !fs.readdirSync(pending).some((f) => f.endsWith('.json')), TEARDOWN_MS);
      const seen = run(['exec', 'stay', 'timeout', '15', 'wget', '-qO-', `http://${outside.outIp}:8080/`]).trim();
      assert.equal(seen, outside.hostIp, 'still NATed to the host address');
      run(['rm', '-f', 'stay']);
    } finally {
      removeNetworkLab(other.root);
      other.cleanup();
    }
  });

  it("two roots never pick the same subnet for their default networks, even with no bridge up to show it as a route", () => {
    const other = tempRoot();
    try {
      /** A new root's default network, made by its first `network inspect bridge`. */
      const subnetOf = (root: string) => {
        importBusybox(root);
        const [info] = JSON.parse(tsrunOk(root, ['network', 'inspect', 'bridge'])) as { IPAM: { Config: { Subnet: string }[] } }[];
        return info!.IPAM.Config[0]!.Subnet;
      };
      const first = path.join(other.scratch, 'first');
      const a = subnetOf(first); // made now; no container, so no bridge and no host route for it
      // a root whose first candidate (store.ts pickSubnet: its tag's offset into 10.66-127) is that subnet
      const k = Number(a.split('.')[1]) - 66;
      let second = '';
      for (let i = 0; !second; i++) if (parseInt(rootTag(path.join(other.scratch, `r${i}`)), 16) % 62 === k) second = path.join(other.scratch, `r${i}`);
      const b = subnetOf(second);
      assert.notEqual(b, a, 'the second root took the subnet the first root claimed');
      // the claim goes with its root: once the first root is removed, a third root whose first candidate is
      // the same subnet gets it
      fs.rmSync(first, { recursive: true, force: true });
      let third = '';
      for (let i = 0; !third; i++) if (parseInt(rootTag(path.join(other.scratch, `t${i}`)), 16) % 62 === k) third = path.join(other.scratch, `t${i}`);
      assert.equal(subnetOf(third), a);
    } finally {
      other.cleanup();
    }
  });

  it('after run --rm: the next run reuses its host port and --ip at once; a teardown job that dies is replayed', async () => {
    const port = await freePort();
    for (let i = 0; i < 3; i++) {
      run(['run', '--rm', '--network', A, '--ip', `10.253.${K}.50`, '-p', `127.0.0.1:${port}:80`, BB, 'true']);
    }
    const pendingDir = path.join(t().root, 'networks', 'pending');
    await until('the last teardown job to finish', () => !fs.existsSync(pendingDir) || !fs.readdirSync(pendingDir).some((f) => f.endsWith('.json')), TEARDOWN_MS);

    // a job that dies before netavark ran: netavark's lock is held from after the container's setup
    // until its run has handed the teardown to a job (which then waits for the lock), the job is
    // killed, the lock given back, and network rm replays the teardown
    run(['network', 'create', '--subnet', `10.252.${K}.0/24`, INT + 'k']);
    const gate = path.join(t().scratch, 'gate');
    fs.mkdirSync(gate, { recursive: true });
    const held = path.join(gate, 'held');
    const ctr = tsrunSpawn(t().root, ['run', '--rm', '--network', INT + 'k', '-p', '127.0.0.1::80', '-v', `${gate}:/gate`, BB, 'sh', '-c', 'touch /gate/started; until [ -e /gate/go ]; do sleep 0.05; done']);
    let ctrOut = '';
    ctr.stdout.on('data', (d: Buffer) => (ctrOut += d));
    ctr.stderr.on('data', (d: Buffer) => (ctrOut += d));
    const ctrDone = new Promise<number | null>((r) => ctr.on('close', (c) => r(c)));
    let lock: { release(): Promise<void> } | undefined;
    const release = async () => lock?.release();
    try {
      // the container runs only once netavark's setup is done: the lock is free of it then
      await until('the container to run', () => fs.existsSync(path.join(gate, 'started')), 60_000);
      lock = await holdNetavarkLock(held);
      fs.writeFileSync(path.join(gate, 'go'), '');
      assert.equal(await ctrDone, 0, ctrOut);
      const [rec] = fs.readdirSync(pendingDir).filter((f) => f.endsWith('.json'));
      assert.ok(rec, 'run --rm handed its teardown to a job');
      const id = rec!.replace(/\.json$/, '');
      const job = jobGroup(path.join(pendingDir, rec!));
      assert.ok(job, 'the teardown job is running (waiting for the lock)');
      process.kill(-job!, 'SIGKILL');
      await until('the killed job to be gone', () => jobGroup(path.join(pendingDir, rec!)) === undefined, 30_000);
      await release();
      assert.ok(fs.existsSync(path.join(pendingDir, rec!)), 'the killed job left its record');
      assert.notDeepEqual(leftovers(t().root, id), [], 'and what it was to undo');
      assert.equal(run(['network', 'rm', INT + 'k']).trim(), INT + 'k');
      assert.deepEqual(leftovers(t().root, id), []);
      assert.ok(!fs.existsSync(path.join(pendingDir, rec!)));
    } finally {
      fs.writeFileSync(path.join(gate, 'go'), '');
      await release();
      await ctrDone;
    }
  });

  it("a teardown job that gets netavark's lock only after the container's next start has settled it undoes nothing of that start", async () => {
    // start -a hands its teardown to a job, which waits for the lock held here; the job is killed and its
    // argv kept, the lock given back, and the next start settles the teardown itself and runs. The job's
    // argv is then run as the job would have run had it got the lock only now (a loaded host): it must find
    // nothing to do, and the running container keep its namespace (same path as before), its lease (same
    // container ID) and its way out. (Not SIGSTOP on the waiting job: this kernel can grant the lock to a
    // stopped waiter, which then holds every network setup on the machine.)
    const gate = path.join(t().scratch, 'gate-again');
    fs.mkdirSync(gate, { recursive: true });
    const pendingDir = path.join(t().root, 'networks', 'pending');
    const id = run(['create', '--name', 'again', '--network', A, '-v', `${gate}:/gate`, BB, 'sh', '-c', 'n=$(cat /gate/n); touch /gate/started$n; until [ -e /gate/go$n ]; do sleep 0.05; done']).trim();
    const startA = (n: number) => {
      fs.writeFileSync(path.join(gate, 'n'), String(n));
      const p = tsrunSpawn(t().root, ['start', '-a', 'again']);
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d));
      p.stderr.on('data', (d: Buffer) => (out += d));
      return new Promise<string>((r) => p.on('close', (c) => r(`${c} ${out}`)));
    };
    let lock: { release(): Promise<void> } | undefined;
    const first = startA(1);
    let second: Promise<string> | undefined;
    try {
      await until('the first start to run', () => fs.existsSync(path.join(gate, 'started1')), 60_000);
      lock = await holdNetavarkLock(path.join(gate, 'held'));
      fs.writeFileSync(path.join(gate, 'go1'), '');
      assert.equal(await first, '0 ');
      const rec = path.join(pendingDir, `${id}.json`);
      assert.ok(fs.existsSync(rec), 'start -a handed its teardown to a job');
      const job = jobGroup(rec);
      assert.ok(job, 'the teardown job waits for the lock');
      const argv = fs.readFileSync(`/proc/${job}/cmdline`, 'utf8').split('\0').slice(0, -1);
      assert.equal(argv[0], 'flock', argv.join(' '));
      process.kill(-job!, 'SIGKILL');
      await until('the killed job to be gone', () => jobGroup(rec) === undefined, 30_000);
      await lock.release();
      second = startA(2);
      await until('the second start to run', () => fs.existsSync(path.join(gate, 'started2')), 60_000).catch((e: Error) => {
        throw new Error(`${e.message}; ${lockDiagnosis(id)}`);
      });
      assert.ok(!fs.existsSync(rec), 'the second start settled the first teardown');
      const held = () => leftovers(t().root, id).filter((l) => l.startsWith('lease') || l.startsWith('netns'));
      assert.equal(held().length, 3, `lease, netns file and mount of the running container: ${held().join(', ')}`);
      const late = spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 120_000, env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } });
      assert.equal(late.status, 0, 'the late job ran');
      assert.equal(held().length, 3, `the late job took from the running container: ${held().join(', ')}`);
      const out = run(['exec', 'again', 'timeout', '15', 'wget', '-qO-', `http://${outside.outIp}:8080/`]).trim();
      assert.equal(out, outside.hostIp, 'the running container still gets out');
      fs.writeFileSync(path.join(gate, 'go2'), '');
      assert.equal(await second, '0 ');
      run(['rm', 'again']);
      assert.deepEqual(leftovers(t().root, id), []);
    } finally {
      for (const n of [1, 2]) fs.writeFileSync(path.join(gate, `go${n}`), '');
      await lock?.release();
      await first;
      await second;
    }
  });
});

/** Who holds and who waits for netavark's lock, and the processes naming `id`: for a timeout's message. */
function lockDiagnosis(id: string): string {
  const out: string[] = [];
  try {
    const ino = fs.statSync('/run/tsrun/netavark.lock').ino;
    out.push(...fs.readFileSync('/proc/locks', 'utf8').split('\n').filter((l) => l.includes(`:${ino} `)));
  } catch {
    /* no lock file */
  }
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (!argv.some((a) => a.includes(id) || a.includes('netavark'))) continue;
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      out.push(`${d} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]} ${argv.join(' ').slice(0, 150)}`);
    } catch {
      /* gone */
    }
  }
  return out.join(' | ');
}

/**
 * Hold netavark's host-wide lock until release(): flock itself holds it (-o: its shell does not inherit
 * it) and ends when its shell's stdin closes, so nothing outlives release(). `marker` is made once held.
 */
async function holdNetavarkLock(marker: string): Promise<{ release(): Promise<void> }> {
  const holder = spawn('flock', ['-x', '-o', '/run/tsrun/netavark.lock', 'sh', '-c', `touch ${marker}; read x`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const closed = new Promise((r) => holder.once('close', r));
  const release = async () => {
    if (holder.exitCode === null && holder.signalCode === null) holder.stdin!.end();
    await closed;
  };
  try {
    await until('flock to hold the netavark lock', () => fs.existsSync(marker), 60_000);
  } catch (err) {
    await release();
    throw err;
  }
  return { release };
}

/**
 * The process group of the detached teardown job whose argv names this pending record (its leader,
 * flock, waits for netavark's lock; pending.ts). A process that exits while it is read is skipped.
 */
function jobGroup(record: string): number | undefined {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (!argv.includes(record)) continue;
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z' && Number(pgrp) === Number(d)) return Number(d);
    } catch {
      /* gone (ESRCH, ENOENT) */
    }
  }
  return undefined;
}
