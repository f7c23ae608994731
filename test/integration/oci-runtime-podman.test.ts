/**
 * podman driving tsrun-runtime (`podman --runtime bin/tsrun-runtime`, through
 * conmon): run, run -d, exec (status, user, cwd, env), exec -it and run -it
 * (a pty sent to conmon's console socket), stop, rm; nothing of a container
 * is left after rm (its cgroup, its state dir in the runtime's root).
 * podman gets private state and config (test/helpers/peers.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { podman, type Podman } from '../helpers/peers.js';
import { busyboxTar } from '../helpers/cli.js';
import { RUNTIME } from '../helpers/oci.js';

let work: string;
let pm: Podman;
// podman gives a runtime it does not know no --root, and its clean-up process (conmon's exit command)
// gets no --runtime-flag: a wrapper that adds --root keeps every call's state in the test's dir
const rtFlags = () => ['--runtime', path.join(work, 'tsrun-runtime-private')];
const P = (args: string[], opts: { allowFail?: boolean } = {}) => pm.run([...rtFlags(), ...args], { timeoutMs: 60_000, ...opts });

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-oci-podman-'));
  pm = podman(work);
  fs.writeFileSync(path.join(work, 'tsrun-runtime-private'), `#!/bin/sh\nexec ${RUNTIME} --root ${path.join(work, 'runtime-root')} "$@"\n`, { mode: 0o755 });
  pm.run(['import', busyboxTar(), 'localhost/busybox']);
});

after(() => {
  pm.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

/** Files or dirs named after the container anywhere below podman's run root (the runtime's state dir among them). */
function leftovers(id: string): string[] {
  const found: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 4) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && e.name === id) found.push(p);
      else if (e.isDirectory() && !e.isSymbolicLink()) walk(p, depth + 1);
    }
  };
  walk(path.join(pm.dir, 'run'), 0);
  if (fs.existsSync(path.join(work, 'runtime-root', id))) found.push(path.join(work, 'runtime-root', id));
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    const d = path.join('/sys/fs/cgroup', h, 'libpod_parent', `libpod-${id}`);
    if (fs.existsSync(d)) found.push(d);
  }
  return found;
}

test('podman run --rm: output and exit status come through conmon from tsrun-runtime; nothing left', () => {
  const cidFile = path.join(work, 'rm.cid');
  const r = P(['run', '--rm', '--cidfile', cidFile, 'localhost/busybox', 'sh', '-c', 'echo hello from $(hostname); exit 3'], { allowFail: true });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /^hello from [0-9a-f]{12}\n$/);
  assert.deepEqual(fs.readdirSync(path.join(work, 'runtime-root')), [], 'the runtime state dir removed');
  const id = fs.readFileSync(cidFile, 'utf8').trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.deepEqual(leftovers(id), [], 'the cgroup removed');
});

test('podman run -d, exec, stop, rm', () => {
  const id = P(['run', '-d', 'localhost/busybox', 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']).stdout.trim();
  assert.ok(fs.existsSync(path.join(work, 'runtime-root', id, 'state.json')), 'tsrun-runtime holds the container');
  assert.match(P(['ps', '--format', '{{.ID}} {{.Status}}']).stdout, new RegExp(`^${id.slice(0, 12)} Up`, 'm'));
  const e = P(['exec', id, 'sh', '-c', 'echo exec in $(cat /proc/1/comm); exit 4'], { allowFail: true });
  assert.equal(e.code, 4, e.stderr);
  assert.equal(e.stdout, 'exec in sh\n');
  assert.equal(P(['exec', '-u', '1000', '-w', '/tmp', '-e', 'FOO=bar', id, 'sh', '-c', 'echo $(id -u) $(pwd) $FOO']).stdout, '1000 /tmp bar\n');
  const missing = P(['exec', id, '/no/such/binary'], { allowFail: true });
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no\/such\/binary/);
  P(['stop', '-t', '5', id]);
  assert.match(P(['ps', '-a', '--format', '{{.ID}} {{.Status}}']).stdout, new RegExp(`^${id.slice(0, 12)} Exited \\(0\\)`, 'm'));
  P(['rm', id]);
  assert.deepEqual(leftovers(id), []);
});

test('podman run -it and exec -it: a pty from the container, sent over the console socket', () => {
  const name = `tty-${process.pid}`;
  const run = spawnSync('script', ['-qec', `podman --root ${pm.dir}/graph --runroot ${pm.dir}/run --cgroup-manager cgroupfs ${rtFlags().join(' ')} run --name ${name} -it localhost/busybox sh -c 'tty; exit 5'`, '/dev/null'], {
    env: pm.env,
    input: '',
    timeout: 60_000,
  });
  assert.equal(run.status, 5, `stdout: ${run.stdout?.toString()} stderr: ${run.stderr?.toString()} signal: ${run.signal}`);
  // What the container wrote on its terminal, as conmon read it from the pty master tsrun-runtime sent
  // over the console socket: conmon's log. Not podman's attached output: podman 4.3 loses what a
  // container writes in its first milliseconds there with any runtime (runc too: 2-3 runs in 30 on
  // this machine under load, the log holding the line each time), so that output is not checked.
  // (the pty echoes the NUL that reaches it from script(1)'s empty stdin as "^@", before or after the line)
  assert.match(P(['logs', name]).stdout.replaceAll('^@', ''), /^\/dev\/pts\/0\r?\n$/);
  const ranId = P(['inspect', '-f', '{{.Id}}', name]).stdout.trim();
  P(['rm', name]);
  assert.deepEqual(leftovers(ranId), []);
  const id = P(['run', '-d', 'localhost/busybox', 'sleep', '60']).stdout.trim();
  const ex = spawnSync('script', ['-qec', `podman --root ${pm.dir}/graph --runroot ${pm.dir}/run --cgroup-manager cgroupfs ${rtFlags().join(' ')} exec -it ${id} sh -c 'tty; exit 6'`, '/dev/null'], {
    env: pm.env,
    input: '',
    timeout: 60_000,
  });
  assert.equal(ex.status, 6, `stdout: ${ex.stdout?.toString()} stderr: ${ex.stderr?.toString()} signal: ${ex.signal}`);
  assert.match(ex.stdout.toString(), /\/dev\/pts\/\d+\r\n/);
  P(['rm', '-f', '-t', '0', id]);
  assert.deepEqual(leftovers(id), []);
});
