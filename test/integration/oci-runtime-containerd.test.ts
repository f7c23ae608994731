/**
 * containerd running containers through tsrun-runtime: its runc v2 shim with
 * `ctr run --runc-binary bin/tsrun-runtime` (the path Kubernetes nodes take).
 * The test starts its own containerd (own root, state dir, sockets; no CRI
 * plugin), imports busybox saved by tsrun, and runs: a container's output and
 * exit status, run -d + task exec + kill + delete, nothing left after delete.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { busyboxTar, tsrunOk } from '../helpers/cli.js';
import { RUNTIME } from '../helpers/oci.js';
import { until } from '../helpers/wait.js';

let work: string;
let daemon: ChildProcess;
const NS = `tsrun-test-${process.pid}`;

function ctr(args: string[], opts: { allowFail?: boolean } = {}) {
  const r = spawnSync('ctr', ['-a', path.join(work, 'containerd.sock'), '-n', NS, ...args], { timeout: 60_000 });
  const res = { code: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
  if (res.code !== 0 && !opts.allowFail) throw new Error(`ctr ${args.join(' ')} exited ${res.code}: ${res.stderr.trim()}`);
  return res;
}

const runtimeFlags = () => ['--runc-binary', RUNTIME, '--runc-root', path.join(work, 'runc'), '--fifo-dir', path.join(work, 'fifo')];

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-oci-ctrd-'));
  fs.writeFileSync(
    path.join(work, 'config.toml'),
    [
      'version = 2',
      `root = "${work}/root"`,
      `state = "${work}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${work}/containerd.sock"`,
      '[ttrpc]',
      `  address = "${work}/containerd.sock.ttrpc"`,
      '',
    ].join('\n'),
  );
  daemon = spawn('containerd', ['--config', path.join(work, 'config.toml')], { stdio: ['ignore', 'ignore', fs.openSync(path.join(work, 'containerd.log'), 'w')] });
  // a loaded machine may take long to start containerd: waited for by asking it, generously
  await until('containerd to listen', () => daemon.exitCode === null && fs.existsSync(path.join(work, 'containerd.sock')) && ctr(['version'], { allowFail: true }).code === 0, 60_000);
  // busybox as an image archive: tsrun imports the rootfs fixture and saves it
  const store = path.join(work, 'tsrun');
  tsrunOk(store, ['import', busyboxTar(), 'busybox:latest']);
  tsrunOk(store, ['save', '-o', path.join(work, 'busybox.tar'), 'busybox:latest']);
  ctr(['images', 'import', path.join(work, 'busybox.tar')]);
});

after(async () => {
  for (const id of ['c1', 'c2']) {
    ctr(['task', 'kill', '-s', 'KILL', id], { allowFail: true });
    ctr(['task', 'delete', '-f', id], { allowFail: true });
    ctr(['container', 'delete', id], { allowFail: true });
  }
  ctr(['images', 'rm', 'docker.io/library/busybox:latest'], { allowFail: true });
  // listen before the signal, and not at all for a daemon that already ended: 'exit' would never come
  if (daemon.exitCode === null && daemon.signalCode === null) {
    const exited = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGTERM');
    await exited;
  }
  // cgroupsPath is /NAMESPACE/ID: the namespace's dirs are this test's
  for (const h of fs.readdirSync('/sys/fs/cgroup'))
    try {
      fs.rmdirSync(path.join('/sys/fs/cgroup', h, NS));
    } catch {
      /* not made on this hierarchy */
    }
  spawnSync('sh', ['-c', `grep -o ' ${work}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]);
  fs.rmSync(work, { recursive: true, force: true });
});

test('ctr run --rm through the runc v2 shim: output and exit status', () => {
  const r = ctr(['run', '--rm', ...runtimeFlags(), 'docker.io/library/busybox:latest', 'c1', 'sh', '-c', 'echo hello from containerd; exit 3'], { allowFail: true });
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, 'hello from containerd\n');
  assert.ok(!fs.existsSync(path.join(work, 'runc', NS, 'c1')), 'state dir removed');
});

test('ctr run -d, task exec, kill, delete; nothing left', async () => {
  ctr(['run', '-d', ...runtimeFlags(), 'docker.io/library/busybox:latest', 'c2', 'sleep', '60']);
  assert.ok(fs.existsSync(path.join(work, 'runc', NS, 'c2', 'state.json')), 'tsrun-runtime holds the container');
  assert.match(ctr(['task', 'ls']).stdout, /^c2\s+\d+\s+RUNNING/m);
  const e = ctr(['task', 'exec', '--fifo-dir', path.join(work, 'fifo'), '--exec-id', 'e1', 'c2', 'sh', '-c', 'echo exec in $(cat /proc/1/comm); exit 4'], { allowFail: true });
  assert.equal(e.code, 4, e.stderr);
  assert.equal(e.stdout, 'exec in sleep\n');
  ctr(['task', 'kill', '-s', 'KILL', 'c2']);
  await until('the task to stop', () => /^c2\s+\d+\s+STOPPED/m.test(ctr(['task', 'ls']).stdout), 30_000);
  ctr(['task', 'delete', 'c2']);
  ctr(['container', 'delete', 'c2']);
  assert.ok(!fs.existsSync(path.join(work, 'runc', NS, 'c2')), 'state dir removed');
  for (const h of fs.readdirSync('/sys/fs/cgroup')) assert.ok(!fs.existsSync(path.join('/sys/fs/cgroup', h, NS, 'c2')), `cgroup removed (${h})`);
});
