/**
 * The cgroup v2 paths (one cgroup2 hierarchy at /sys/fs/cgroup: clone3 with
 * CLONE_INTO_CGROUP, cgroup.freeze, cgroup.kill, a cgroup2 mount inside the
 * container) on a host that mounts v1, as this project's VM does: each tsrun
 * runs in a private mount namespace where /sys/fs/cgroup is the host's
 * cgroup2 hierarchy (the empty one of a hybrid host), so tsrun sees the
 * layout of a v2-only host. On a v2-only host the other tests cover this, and
 * this file skips.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, importBusybox, TSRUN, type CliResult, type TempRoot } from '../helpers/cli.js';
import { makeBundle, RUNTIME, alive } from '../helpers/oci.js';
import { until } from '../helpers/wait.js';

const V2_HOST = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => / \/sys\/fs\/cgroup [^-]* - cgroup2 /.test(l));
const HAS_CGROUP2 = fs.readFileSync('/proc/filesystems', 'utf8').includes('\tcgroup2\n');
const skip = V2_HOST ? 'the host mounts cgroup v2: the other tests cover it' : !HAS_CGROUP2 ? 'no cgroup2 in this kernel' : false;

/** A shell in a private mount namespace whose /sys/fs/cgroup is the cgroup2 hierarchy. */
// Containers here run with --network none: each command's mount namespace is private, so the netns mount
// a run makes (/run/tsrun/netns) is not seen by a later rm, which then cannot have netavark tear the
// network down, and its NAT rules would stay on the host (two networks leaked per suite run so).
const V2_SHELL = 'mount --make-rprivate / && umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$@"';

function inV2(argv: string[]): CliResult {
  const r = spawnSync('unshare', ['-m', '--', 'sh', '-c', V2_SHELL, 'sh', ...argv], { timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '', signal: r.signal };
}

describe('cgroup v2', { skip }, () => {
  let t: TempRoot;
  const ids: string[] = [];
  const tsrun = (args: string[]) => inV2([process.execPath, TSRUN, '--root', t.root, ...args]);
  const tsrunOk = (args: string[]) => {
    const r = tsrun(args);
    if (r.code !== 0) throw new Error(`tsrun ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  /** A file of the container's cgroup, read from the v2 view. */
  const cgroupFile = (id: string, file: string) => inV2(['cat', `/sys/fs/cgroup/tsrun-${id.slice(0, 12)}/${file}`]);
  const cgroupGone = (id: string) => inV2(['test', '-e', `/sys/fs/cgroup/tsrun-${id.slice(0, 12)}`]).code !== 0;

  before(() => {
    t = tempRoot('tsrun-cgroup-v2-');
    importBusybox(t.root);
  });

  after(() => {
    for (const id of ids) {
      tsrun(['rm', '-f', id]);
      inV2(['sh', '-c', `d=/sys/fs/cgroup/tsrun-${id.slice(0, 12)}; [ -d $d ] && { echo 1 > $d/cgroup.kill; sleep 0.2; rmdir $d; }; true`]);
    }
    t.cleanup();
  });

  it('runs the container in its own v2 cgroup, with cgroup2 read-only at /sys/fs/cgroup; --rm removes it', () => {
    // the v2 root is the machine's, shared with whatever else runs (other tests' containers come and
    // go there): the container's own cgroup is looked for, by its short ID (the default hostname)
    const out = tsrunOk(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'hostname; cat /proc/self/cgroup; grep " /sys/fs/cgroup " /proc/self/mountinfo; test -e /sys/fs/cgroup/cgroup.freeze && echo own-cgroup']);
    const short = out.split('\n')[0]!;
    assert.match(short, /^[0-9a-f]{12}$/);
    assert.match(out, /^0::\/$/m, 'the cgroup namespace is rooted at the container cgroup');
    assert.match(out, / \/sys\/fs\/cgroup ro,.* - cgroup2 /);
    assert.match(out, /own-cgroup/, 'a cgroup of its own (the v2 root has no cgroup.freeze)');
    assert.equal(tsrunOk(['ps', '-aq']).trim(), '', 'no container left');
    assert.ok(cgroupGone(short), 'its cgroup went with it');
  });

  it('puts what the container forks and what exec starts in the cgroup; pause freezes it; rm -f kills all of it and removes it', async () => {
    const id = tsrunOk(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'sleep 300 & sleep 300']).trim();
    ids.push(id);
    tsrunOk(['exec', '-d', id, 'sleep', '301']);
    let pids: number[] = [];
    // busybox sh execs its last command: process 1 becomes the second sleep
    await until('three processes', () => (pids = cgroupFile(id, 'cgroup.procs').stdout.split('\n').filter(Boolean).map(Number)).length >= 3, 30_000).catch(() => {});
    assert.equal(pids.length, 3, 'the two sleeps of the container and the one of exec');
    const state = JSON.parse(tsrunOk(['inspect', id]))[0].State;
    assert.ok(pids.includes(state.Pid));

    tsrunOk(['pause', id]);
    assert.match(cgroupFile(id, 'cgroup.events').stdout, /^frozen 1$/m);
    assert.match(tsrunOk(['ps', '-a']), /Paused/);
    tsrunOk(['unpause', id]);
    assert.match(cgroupFile(id, 'cgroup.events').stdout, /^frozen 0$/m);

    tsrunOk(['rm', '-f', id]);
    assert.deepEqual(pids.filter(alive), [], 'no process of the container is left');
    assert.ok(cgroupGone(id), 'the cgroup is removed');
  });

  it('a BPF device program confines run and exec: mknod yes, host devices no; --device, rules and --privileged as docker', () => {
    // the attack of device-cgroup.test.ts: nodes of the host's /dev/kmsg (c 1:11) and loop0 (b 7:0)
    const attack = 'mknod /k c 1 11 && echo MKNOD-C; mknod /l b 7 0 && echo MKNOD-B; (echo tsrun-device-cgroup-test > /k) 2>&1; echo w=$?; (exec 3</l) 2>&1; echo r=$?';
    const denied = (out: string, what: string) => {
      assert.match(out, /MKNOD-C[\s\S]*MKNOD-B/, `${what}: mknod is allowed`);
      assert.match(out, /Operation not permitted\nw=1/, `${what}: /dev/kmsg's node does not open: ${out}`);
      assert.match(out, /Operation not permitted\nr=[1-9]/, `${what}: 7:0 does not open: ${out}`);
    };
    const out = tsrunOk(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', `${attack}; echo x > /dev/null && echo NULL-OK; head -c 2 /dev/urandom | wc -c; exec 4<>/dev/ptmx && echo PTMX-OK; test -e /sys/fs/cgroup/cgroup.freeze && echo own-cgroup`]);
    assert.match(out, /own-cgroup/, 'the container runs in its v2 cgroup');
    denied(out, 'run');
    assert.match(out, /NULL-OK/);
    assert.match(out, /^\s*2$/m);
    assert.match(out, /PTMX-OK/);

    const id = tsrunOk(['run', '-d', '--network', 'none', 'busybox', 'sleep', '60']).trim();
    ids.push(id);
    denied(tsrunOk(['exec', id, 'sh', '-c', attack]), 'exec');
    tsrunOk(['rm', '-f', id]);

    // /dev/loop-control (c 10:237): not on docker's list, and opening it needs no capability
    const dev = tsrunOk(['run', '--rm', '--network', 'none', '--device', '/dev/loop-control:/dev/lc:r', '--device-cgroup-rule', 'b 7:0 r', 'busybox', 'sh', '-c', 'exec 3</dev/lc && echo OPEN-K; (exec 3>/dev/lc) 2>&1; echo w=$?; mknod /l b 7 0; exec 4</l && echo OPEN-L; (exec 4>/l) 2>&1; echo lw=$?']);
    assert.match(dev, /OPEN-K/);
    assert.match(dev, /Operation not permitted\nw=1/);
    assert.match(dev, /OPEN-L/);
    assert.match(dev, /Operation not permitted\nlw=1/);

    // type a: every device (the program's first rule returns 1 for all)
    assert.match(tsrunOk(['run', '--rm', '--network', 'none', '--device-cgroup-rule', 'a *:* rwm', 'busybox', 'sh', '-c', 'mknod /l b 7 0; exec 4</l && echo OPEN-L']), /OPEN-L/);

    const priv = tsrunOk(['run', '--rm', '--network', 'none', '--privileged', 'busybox', 'sh', '-c', 'mknod /k c 1 11; exec 3>/k && echo OPEN-K; mknod /l b 7 0; exec 4</l && echo OPEN-L']);
    assert.match(priv, /OPEN-K[\s\S]*OPEN-L/);
  });

  it('a limit whose controller the v2 hierarchy does not hand down fails the start naming it, and leaves no cgroup', () => {
    // this host's v2 hierarchy has none of memory, cpu, pids, cpuset, io (they are bound to v1)
    const controllers = inV2(['cat', '/sys/fs/cgroup/cgroup.controllers']).stdout;
    // each failed start's own cgroup (named in its error), not a listing of the machine's shared v2 root
    const made: string[] = [];
    for (const [flags, controller] of [[['-m', '64m'], 'memory'], [['--pids-limit', '20'], 'pids'], [['--cpus', '1'], 'cpu'], [['--cpuset-cpus', '0'], 'cpuset']] as const) {
      assert.ok(!controllers.split(/\s+/).includes(controller), `${controller} is not available in this v2 hierarchy (test premise)`);
      const r = tsrun(['run', '--rm', '--network', 'none', ...flags, 'busybox', 'true']);
      assert.equal(r.code, 125, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^tsrun: cgroup v2: the ${controller} controller is not available in /sys/fs/cgroup/tsrun-[0-9a-f]{12} \\(`), r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      made.push(/\/sys\/fs\/cgroup\/tsrun-([0-9a-f]{12}) /.exec(r.stderr)![1]!);
    }
    assert.deepEqual(made.filter((short) => !cgroupGone(short)), [], 'no cgroup left behind');
    assert.equal(tsrunOk(['ps', '-aq']).trim(), '', '--rm removed the records');
  });

  it("tsrun-runtime applies a bundle's linux.resources.devices as a BPF program (tsrun-init's), later rules overriding earlier ones", () => {
    const rtRoot = path.join(t.scratch, 'rt');
    // c 10:237 (/dev/loop-control: opening it needs no capability): allowed rw, then its write
    // denied again; b 7:0 never; runc's defaults (/dev/null) added
    const script = [
      'mknod /k c 10 237 && echo MKNOD-C',
      'mknod /l b 7 0 && echo MKNOD-B',
      '(exec 3</k) 2>&1 && echo K-READ',
      '(exec 3>/k) 2>&1; echo kw=$?',
      '(exec 4</l) 2>&1; echo lr=$?',
      'echo x > /dev/null && echo NULL-OK',
      'test -e /sys/fs/cgroup/cgroup.freeze && echo own-cgroup',
    ].join('; ');
    const { dir, cgroup } = makeBundle(t.scratch, (s) => {
      s.root.readonly = false;
      s.process.args = ['sh', '-c', `(${script}) > /out.txt 2>&1`];
      for (const set of ['bounding', 'effective', 'permitted']) s.process.capabilities[set].push('CAP_MKNOD');
      s.linux.resources = {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 10, minor: 237, access: 'rw' },
          { allow: false, type: 'c', major: 10, minor: 237, access: 'w' },
        ],
      };
    });
    const id = `v2dev-${process.pid}`;
    const rtc = `${RUNTIME} --root ${rtRoot}`;
    const r = inV2([
      'sh',
      '-c',
      `${rtc} create --bundle ${dir} ${id} </dev/null >${dir}/stdio.log 2>&1 || exit 1; ${rtc} start ${id} || exit 2; ` +
        `for i in $(seq 100); do ${rtc} state ${id} | grep -q '"stopped"' && break; sleep 0.05; done; ${rtc} delete --force ${id}; ` +
        `d=/sys/fs/cgroup${cgroup}; [ -d $d ] && { echo 1 > $d/cgroup.kill; sleep 0.2; rmdir $d; }; true`,
    ]);
    assert.equal(r.code, 0, `${r.stderr} ${fs.existsSync(`${dir}/stdio.log`) ? fs.readFileSync(`${dir}/stdio.log`, 'utf8') : ''}`);
    const out = fs.readFileSync(path.join(dir, 'rootfs', 'out.txt'), 'utf8');
    assert.match(out, /own-cgroup/, 'ran in its v2 cgroup');
    assert.match(out, /MKNOD-C[\s\S]*MKNOD-B/, 'mknod is allowed (runc\'s c *:* m, b *:* m)');
    assert.match(out, /K-READ/, `the allowed read of c 10:237: ${out}`);
    assert.match(out, /Operation not permitted\nkw=1/, `the later deny of its write wins: ${out}`);
    assert.match(out, /Operation not permitted\nlr=[1-9]/, `b 7:0 is denied: ${out}`);
    assert.match(out, /NULL-OK/, "runc's default devices are allowed");
  });

  it('stop reaches every process of the cgroup once the timeout passes', () => {
    const id = tsrunOk(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', "trap '' TERM; sleep 300 & sleep 300"]).trim();
    ids.push(id);
    const before = Date.now();
    tsrunOk(['stop', '-t', '1', id]);
    assert.ok(Date.now() - before >= 900, 'waited out the timeout');
    assert.equal(JSON.parse(tsrunOk(['inspect', id]))[0].State.Status, 'exited');
    assert.ok(cgroupGone(id) || cgroupFile(id, 'cgroup.procs').stdout.trim() === '', 'nothing left in the cgroup');
  });
});
