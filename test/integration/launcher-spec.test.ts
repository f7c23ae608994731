/**
 * The one spec → process path (issue #11): tsrun-init carries out what a spec
 * asks beyond tsrun run's own flags with the code tsrun-runtime uses for it
 * (native/init/hooks.c, spec_apply.c, native/cgroup/): linux.sysctl; hooks,
 * each kind at its point with the state on its stdin (and a hook that fails or
 * times out stops the start); a new user namespace with its id maps, and one
 * joined by path (the run's other namespaces made inside it); and the
 * cgroup made from linux.cgroupsPath with linux.resources' limits. Each spec is
 * one tsrun builds for a created container, edited, and handed to tsrun-init
 * as tsrun does: frames on fd 3 (namespaces, spec, EOF as the go), the status
 * line on fd 4.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { FIXTURES, REPO, tsrunOk, useBusyboxRoot } from '../helpers/cli.js';
import { openCtx } from '../../src/context.js';
import { findContainer } from '../../src/containers/record.js';
import { containerSpec, specJson } from '../../src/runtime/spec/build.js';
import { native } from '../../src/native.js';
import { until } from '../helpers/wait.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const INIT = path.join(REPO, 'build', 'Release', 'tsrun-init');
const PARENT = `/tsrun-launcher-test-${process.pid}`;
const t = useBusyboxRoot();

after(() => {
  // the cgroups the launchers made (below PARENT), then PARENT itself
  for (const rel of ['a', 'b', 'c', 'd', 'e', 'f', '']) {
    const r = native().cgroupResolve(rel ? `${PARENT}/${rel}` : PARENT, false);
    try {
      native().cgroupRemove(r.version, r.dirs, 2000);
    } catch {
      /* busy: reported by the test that made it */
    }
  }
});

/** The spec tsrun would hand tsrun-init for a created container, its cgroup at PARENT/cg (resolved by the launcher). */
function specFor(name: string, cg: string): { spec: Json; dir: string; id: string; cgroup: { version: 1 | 2; dirs: string[]; controllers: string[] } } {
  const ctx = openCtx(t().root);
  const c = findContainer(ctx, name);
  const cgroupsPath = `${PARENT}/${cg}`;
  const cgroup = native().cgroupResolve(cgroupsPath, false);
  const devicesDir = cgroup.version === 2 ? cgroup.dirs[0] : cgroup.dirs[cgroup.controllers.findIndex((x) => x.split(',').includes('devices'))];
  // no io.tsrun.cgroup.dirs: the launcher resolves linux.cgroupsPath itself
  const spec = containerSpec(ctx, c, { detach: false, cgroupsPath, cgroupDirs: [], devicesDir, netns: undefined });
  return { spec: structuredClone(spec) as Json, dir: c.dir, id: c.config.id, cgroup };
}

interface Ran {
  status: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** tsrun-init with a spec, as src/runtime/launch.ts drives it. */
async function launch(spec: Json): Promise<Ran> {
  const child = spawn(INIT, [], { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
  const out = { status: '', stdout: '', stderr: '' };
  (child.stdio[4] as Readable).on('data', (d: Buffer) => (out.status += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const fd3 = child.stdio[3] as Writable;
  fd3.on('error', () => {}); // a launcher that refused the spec closes its end
  fd3.end(`${JSON.stringify(spec.linux.namespaces)}\0${specJson(spec)}\0`);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { ...out, status: out.status.trim(), code };
}

const cgFile = (dirs: string[], file: string) => {
  const d = dirs.find((x) => fs.existsSync(path.join(x, file)));
  return d ? fs.readFileSync(path.join(d, file), 'utf8').trim() : undefined;
};

describe('tsrun-init carries out the spec as tsrun-runtime does', () => {
  it('linux.sysctl in the container\'s namespaces (before docker\'s read-only /proc/sys); its cgroup made from linux.cgroupsPath with linux.resources', async () => {
    tsrunOk(t().root, ['create', '--name', 'sys', '--network', 'none', '-m', '64m', '--pids-limit', '30', 'busybox', 'sh', '-c',
      'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; echo 1 > /proc/sys/net/ipv4/ip_forward || echo read-only']);
    const { spec, cgroup } = specFor('sys', 'a');
    spec.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmni': '1000' };
    assert.ok(spec.linux.readonlyPaths.includes('/proc/sys'), "docker's read-only /proc/sys is in the spec");
    const hostForward = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    const r = await launch(spec);
    assert.equal(r.code, 0, `${r.status} ${r.stderr}`);
    assert.match(r.status, /^ok\t\d+$/);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], '1', 'net.ipv4.ip_forward in its network namespace');
    assert.equal(lines[1], '1000', 'kernel.shmmni in its IPC namespace');
    if (cgroup.version === 1) {
      assert.equal(lines[2], String(64 << 20), 'the limit, seen inside');
      assert.equal(lines[3], '30');
    }
    assert.match(r.stdout, /read-only/, '/proc/sys is read-only once the container runs');
    assert.equal(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), hostForward, "the host's value is untouched");
    // made by the launcher where linux.cgroupsPath says, with the spec's limits
    for (const d of cgroup.dirs) assert.ok(fs.existsSync(d), `${d} made`);
    assert.equal(cgFile(cgroup.dirs, cgroup.version === 2 ? 'memory.max' : 'memory.limit_in_bytes'), String(64 << 20));
    assert.equal(cgFile(cgroup.dirs, 'pids.max'), '30');
  });

  it('hooks: each kind at its point, in order, with the state on stdin', async () => {
    tsrunOk(t().root, ['create', '--name', 'hk', '--network', 'none', 'busybox', 'sh', '-c', 'echo main; cat /tmp/started']);
    const { spec, dir, id } = specFor('hk', 'b');
    const log = path.join(t().scratch, 'hooks');
    fs.mkdirSync(log);
    const record = (kind: string) => ({ path: '/bin/sh', args: ['sh', '-c', `cat > ${log}/${kind}.json; echo ${kind} >> ${log}/order`] });
    spec.hooks = {
      prestart: [record('prestart')],
      createRuntime: [record('createRuntime')],
      createContainer: [record('createContainer')],
      // in the container: its path and the file it writes are the container's
      startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'cat > /tmp/started'] }],
      poststart: [record('poststart')],
      poststop: [record('poststop')],
    };
    const r = await launch(spec);
    assert.equal(r.code, 0, `${r.status} ${r.stderr}`);
    const pid = Number(r.status.split('\t')[1]);
    assert.deepEqual(fs.readFileSync(path.join(log, 'order'), 'utf8').trim().split('\n'), ['prestart', 'createRuntime', 'createContainer', 'poststart', 'poststop']);
    const state = (kind: string) => JSON.parse(fs.readFileSync(path.join(log, `${kind}.json`), 'utf8'));
    for (const [kind, status] of [['prestart', 'creating'], ['createRuntime', 'creating'], ['createContainer', 'creating'], ['poststart', 'running'], ['poststop', 'stopped']]) {
      const s = state(kind!);
      assert.equal(s.ociVersion, '1.2.0');
      assert.equal(s.status, status, kind);
      assert.equal(s.id, id);
      assert.equal(s.bundle, dir);
      assert.equal(s.annotations['io.tsrun.exitfile'], path.join(dir, 'exit.json'));
      if (kind !== 'poststop') assert.equal(s.pid, pid, `${kind}: the container's host PID`);
    }
    const [main, started] = r.stdout.split('\n');
    assert.equal(main, 'main');
    const s = JSON.parse(started!);
    assert.equal(s.status, 'running', 'startContainer, in the container, before the process');
    assert.equal(s.pid, pid);
  });

  it('a failing or timed-out hook stops the start (one line, 125); a failing poststart is a warning', async () => {
    tsrunOk(t().root, ['create', '--name', 'hf', '--network', 'none', 'busybox', 'sh', '-c', 'echo ran']);
    const failing = specFor('hf', 'c').spec;
    failing.hooks = { prestart: [{ path: '/bin/false' }] };
    let r = await launch(failing);
    assert.equal(r.code, 125);
    assert.match(r.status, /^err\tprestart hook\t\d+\tprestart hook \/bin\/false failed with exit status 1$/);
    assert.equal(r.stdout, '', 'the container never ran');
    const slow = specFor('hf', 'c').spec;
    // the hook would sleep 1000 s: a launch that ends well before (however slow the machine) killed it
    slow.hooks = { createContainer: [{ path: '/bin/sleep', args: ['sleep', '1000'], timeout: 1 }] };
    const t0 = Date.now();
    r = await launch(slow);
    assert.equal(r.code, 125);
    assert.match(r.status, /^err\tcreateContainer hook\t\d+\tcreateContainer hook \/bin\/sleep timed out after 1s$/);
    assert.ok(Date.now() - t0 < 120_000, 'killed at its timeout');
    const warn = specFor('hf', 'c').spec;
    warn.hooks = { poststart: [{ path: '/bin/false' }] };
    r = await launch(warn);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ran\n');
    assert.match(r.stderr, /warning: poststart hook \/bin\/false failed with exit status 1/);
  });

  it('a new user namespace with its id maps: root inside is 100000 outside', async () => {
    tsrunOk(t().root, ['create', '--name', 'us', '--network', 'none', 'busybox', 'sh', '-c',
      'cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u /bin/busybox; touch /tmp/made']);
    const { spec, dir } = specFor('us', 'd');
    // root in the namespace is 100000 outside: the dirs on the way to what it mounts must let it search them
    for (const d of [path.dirname(t().root), t().root, path.dirname(dir), dir, t().scratch]) fs.chmodSync(d, 0o711);
    // a plain root directory (the image unpacked), not tsrun's overlay
    const root = path.join(t().scratch, 'usroot');
    fs.mkdirSync(root);
    const x = spawnSync('tar', ['-xf', path.join(FIXTURES, 'busybox-rootfs.tar'), '-C', root]);
    assert.equal(x.status, 0, x.stderr?.toString());
    // owned by the namespace's root, as an engine prepares a root for a user namespace (podman's --userns)
    const ch = spawnSync('chown', ['-R', '100000:100000', root]);
    assert.equal(ch.status, 0, ch.stderr?.toString());
    spec.root.path = root;
    for (const k of Object.keys(spec.annotations)) if (k.startsWith('io.tsrun.overlay.')) delete spec.annotations[k];
    spec.linux.namespaces.push({ type: 'user' });
    spec.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    spec.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    // a cgroup v1 hierarchy cannot be mounted from a user namespace (runc leaves it out there too)
    spec.mounts = spec.mounts.filter((m: Json) => m.type !== 'cgroup');
    const r = await launch(spec);
    assert.equal(r.code, 0, `${r.status} ${r.stderr}`);
    const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    assert.deepEqual(lines, ['0 100000 65536', '0 100000 65536', '0', '0'], 'uid 0 inside; the files of uid 100000 are root\'s');
    assert.equal(fs.statSync(path.join(root, 'tmp', 'made')).uid, 100000, 'a file it made belongs to 100000 on the host');
  });

  it('a user namespace joined by path: the run\'s new namespaces are made inside it (runc\'s order)', async () => {
    // the holder runs until this test kills it (a fixed sleep could end before a slow machine is done)
    tsrunOk(t().root, ['create', '--name', 'uh', '--network', 'none', 'busybox', 'sleep', '100000']);
    tsrunOk(t().root, ['create', '--name', 'uj', '--network', 'none', 'busybox', 'sh', '-c',
      'cat /proc/self/uid_map; id -u; hostname; readlink /proc/self/ns/user']);
    const holder = specFor('uh', 'e');
    const joiner = specFor('uj', 'f');
    for (const d of [path.dirname(t().root), t().root, path.dirname(holder.dir), holder.dir, joiner.dir, t().scratch]) fs.chmodSync(d, 0o711);
    const root = path.join(t().scratch, 'ujroot');
    fs.mkdirSync(root);
    assert.equal(spawnSync('tar', ['-xf', path.join(FIXTURES, 'busybox-rootfs.tar'), '-C', root]).status, 0);
    assert.equal(spawnSync('chown', ['-R', '100000:100000', root]).status, 0);
    for (const { spec } of [holder, joiner]) {
      spec.root.path = root;
      for (const k of Object.keys(spec.annotations)) if (k.startsWith('io.tsrun.overlay.')) delete spec.annotations[k];
      spec.mounts = spec.mounts.filter((m: Json) => m.type !== 'cgroup');
    }
    holder.spec.linux.namespaces.push({ type: 'user' });
    holder.spec.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    holder.spec.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const child = spawn(INIT, [], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    let pid = 0;
    try {
      let status = '';
      let exited = false;
      (child.stdio[4] as Readable).on('data', (d: Buffer) => (status += d.toString()));
      child.once('exit', () => (exited = true));
      (child.stdio[3] as Writable).end(`${JSON.stringify(holder.spec.linux.namespaces)}\0${specJson(holder.spec)}\0`);
      await until('the holder\'s status line', () => /\n/.test(status) || exited, 60_000);
      pid = Number(status.trim().split('\t')[1]);
      assert.ok(/^ok\t\d+$/.test(status.trim()) && pid > 0, `the holder started: ${status}`);
      const userns = fs.readlinkSync(`/proc/${pid}/ns/user`);
      joiner.spec.hostname = 'joiner';
      joiner.spec.linux.namespaces.push({ type: 'user', path: `/proc/${pid}/ns/user` });
      const r = await launch(joiner.spec);
      assert.equal(r.code, 0, `${r.status} ${r.stderr}`);
      const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
      assert.deepEqual(lines, ['0 100000 65536', '0', 'joiner', userns], 'root in the holder\'s user namespace; its own uts namespace, owned by it');

      // mappings beside a path: runc's error, one line, nothing run
      joiner.spec.linux.uidMappings = holder.spec.linux.uidMappings;
      joiner.spec.linux.gidMappings = holder.spec.linux.gidMappings;
      const bad = await launch(joiner.spec);
      assert.equal(bad.code, 125);
      assert.match(bad.status, /both namespace path and mapping specified -- you may only provide one/);
      assert.equal(bad.stdout, '');
    } finally {
      // the holder's process first (its launcher's end need not end it), then the launcher
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (child.exitCode === null && child.signalCode === null) {
        const closed = new Promise((r) => child.once('close', r));
        child.kill('SIGKILL');
        await closed;
      }
    }
  });
});
