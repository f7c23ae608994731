/**
 * The one schema between TypeScript and the launcher (issue #11): the spec
 * src/runtime/spec/ builds for a container (and for an exec) is read by
 * tsrun-init's reader (native/init/spec*.c, the same one tsrun-runtime uses),
 * which writes back what it understood (`tsrun-init --dump-spec`, built from
 * its parsed structs). The two are compared field by field: a field the
 * reader drops, misreads or never reads fails here. Containers with many
 * flags, --privileged, and an exec are checked; and the launcher refuses, in
 * one line, what it does not carry out.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, tsrunOk, useBusyboxRoot } from '../helpers/cli.js';
import { openCtx } from '../../src/context.js';
import { findContainer } from '../../src/containers/record.js';
import { containerSpec, execSpec, specJson } from '../../src/runtime/spec/build.js';
import type { Spec } from '../../src/runtime/spec/types.js';

const INIT = path.join(REPO, 'build', 'Release', 'tsrun-init');
const t = useBusyboxRoot();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function dump(text: string, mode: 'run' | 'exec'): { out?: Json; err: string; status: number | null } {
  const r = spawnSync(INIT, ['--dump-spec', mode], { input: text, encoding: 'utf8' });
  return { out: r.status === 0 ? JSON.parse(r.stdout) : undefined, err: r.stderr.trim(), status: r.status };
}

/** Where the two sides may differ in form only: option and capability order, seccomp rules one per name. */
function normal(spec: Json): Json {
  const s = structuredClone(spec);
  for (const m of s.mounts ?? []) m.options = [...m.options].sort();
  for (const set of Object.keys(s.process.capabilities)) s.process.capabilities[set] = [...s.process.capabilities[set]].sort();
  if (s.linux.seccomp) {
    s.linux.seccomp.syscalls = s.linux.seccomp.syscalls.flatMap((r: Json) => r.names.map((n: string) => ({ ...r, names: [n] })));
  }
  delete s.launcher;
  return s;
}

function roundTrip(spec: Spec, mode: 'run' | 'exec'): Json {
  const text = specJson(spec);
  const d = dump(text, mode);
  assert.equal(d.status, 0, `the reader refused the spec: ${d.err}`);
  assert.deepEqual(normal(d.out), normal(JSON.parse(text)));
  return d.out;
}

function specOf(name: string, detach = false) {
  const ctx = openCtx(t().root);
  const c = findContainer(ctx, name);
  return { ctx, c, spec: containerSpec(ctx, c, { detach, cgroupsPath: '/x', cgroupDirs: ['/sys/fs/cgroup/x'], devicesDir: '/sys/fs/cgroup/x', netns: undefined }) };
}

describe('spec round trip: TypeScript builds, the C reader reads it back', () => {
  it('a container with many flags', () => {
    const profile = path.join(t().scratch, 'seccomp.json');
    fs.writeFileSync(
      profile,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 38,
        syscalls: [
          { names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
          { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
          { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
          { names: ['ptrace'], action: 'SCMP_ACT_KILL' },
        ],
      }),
    );
    const vol = path.join(t().scratch, 'vol');
    fs.mkdirSync(vol);
    tsrunOk(t().root, [
      'create', '--name', 'many', '--cap-add', 'SYS_ADMIN', '--cap-drop', 'CHOWN', '--ulimit', 'nofile=100:200', '--ulimit', 'core=-1',
      '--read-only', '--init', '-e', 'A=1', '-w', '/work', '-u', '1:2', '--hostname', 'h1', '--tmpfs', '/t:size=1m,exec',
      '-v', `${vol}:/v:ro`, '--device', '/dev/null:/dev/mynull:r', '--device-cgroup-rule', 'c 42:* rw', '--security-opt', `seccomp=${profile}`,
      '--security-opt', 'no-new-privileges', '-i', '--network', 'none', '--restart', 'on-failure:3', '--health-cmd', 'true', '--health-interval', '2s',
      // the limits: linux.resources as tsrun-init writes them (and linux.cgroupsPath)
      '-m', '64m', '--memory-swap', '128m', '--memory-reservation', '32m', '--oom-kill-disable', '--cpus', '0.5', '--cpu-shares', '512',
      '--cpuset-cpus', '0', '--cpuset-mems', '0', '--pids-limit', '50', '--blkio-weight', '300', '--device-read-bps', '/dev/vda:1mb', '--device-write-iops', '/dev/vda:100',
      'busybox', 'sh', '-c', 'echo hi',
    ]);
    const { spec } = specOf('many');
    const out = roundTrip(spec, 'run');
    // the launcher's own reading of it
    const CLONE = { NEWNS: 0x20000, NEWCGROUP: 0x2000000, NEWUTS: 0x4000000, NEWIPC: 0x8000000, NEWPID: 0x20000000, NEWNET: 0x40000000 };
    assert.equal(out.launcher.cloneFlags, Object.values(CLONE).reduce((a, b) => a | b, 0));
    assert.equal(out.launcher.loopbackUp, true);
    assert.equal(out.launcher.allDevices, false);
    assert.equal(out.launcher.deviceRules, spec.linux.resources!.devices!.length);
    // what the test means to cover is in the spec at all
    assert.ok(spec.process.rlimits?.some((r) => r.type === 'RLIMIT_CORE'));
    assert.equal(spec.process.user.uid, 1);
    assert.deepEqual(spec.process.capabilities.effective, [], 'a non-root user has no effective capabilities, as docker');
    assert.ok(spec.linux.devices!.some((d) => d.path === '/dev/mynull'));
    assert.equal(spec.root!.readonly, true);
    assert.equal(spec.annotations['io.tsrun.init'], 'true');
    assert.equal(spec.annotations['io.tsrun.stdin'], 'true');
    assert.equal(spec.linux.seccomp!.defaultErrnoRet, 38);
    assert.ok(spec.annotations['io.tsrun.watch'], 'a restart policy and a healthcheck: the monitor watches');
    const res = spec.linux.resources!;
    assert.deepEqual(res.memory, { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20, disableOOMKiller: true });
    assert.deepEqual(res.cpu, { shares: 512, period: 100000, quota: 50000, cpus: '0', mems: '0' });
    assert.deepEqual(res.pids, { limit: 50 });
    assert.equal(res.blockIO!.weight, 300);
    assert.equal(res.blockIO!.throttleReadBpsDevice![0]!.rate, 1 << 20);
    assert.equal(res.blockIO!.throttleWriteIOPSDevice![0]!.rate, 100);
    assert.equal(spec.linux.cgroupsPath, '/x');
  });

  it('--privileged, detached with --rm, the default seccomp profile off; and an exec', () => {
    tsrunOk(t().root, ['create', '--name', 'priv', '--privileged', '--rm', 'busybox', 'true']);
    tsrunOk(t().root, ['create', '--name', 'dflt', 'busybox', 'true']);
    const { spec } = specOf('priv', true);
    const out = roundTrip(spec, 'run');
    assert.equal(out.launcher.allDevices, true);
    assert.equal(spec.linux.seccomp, undefined);
    assert.ok(spec.annotations['io.tsrun.autoremove']);
    const d = specOf('dflt');
    const withDefault = roundTrip(d.spec, 'run');
    assert.ok(withDefault.linux.seccomp.syscalls.length > 300, "docker's default profile");
    const ex = execSpec(d.ctx, d.c, process.pid, ['/sys/fs/cgroup/x/cgroup.procs'], { args: ['ls', '-l'], env: ['PATH=/bin'], cwd: '/tmp', user: 'nobody', tty: true, openStdin: true, detach: false });
    roundTrip(ex, 'exec');
  });

  it('bind propagation: rootfsPropagation as docker sets it, each bind\'s option, read back', () => {
    const { ctx, c } = specOf('dflt');
    const launch = { detach: false, cgroupsPath: '/x', cgroupDirs: ['/sys/fs/cgroup/x'], devicesDir: '/sys/fs/cgroup/x', netns: undefined };
    const bind = (destination: string, propagation: string) => ({ type: 'bind', source: '/tmp', destination, propagation, from: '-v' }) as Json;
    const opts = (s: Json, d: string) => [...s.mounts.find((m: Json) => m.destination === d).options].sort();
    c.config.host.mounts = [bind('/a', 'rslave'), bind('/b', 'rshared'), bind('/c', 'rprivate')];
    const shared = containerSpec(ctx, c, launch);
    assert.equal(shared.linux.rootfsPropagation, 'shared');
    const out = roundTrip(shared, 'run');
    assert.deepEqual([opts(out, '/a'), opts(out, '/b'), opts(out, '/c')], [['rbind', 'rslave'], ['rbind', 'rshared'], ['rbind', 'rprivate']]);
    c.config.host.mounts = [bind('/a', 'slave'), bind('/c', 'private')];
    assert.equal(roundTrip(containerSpec(ctx, c, launch), 'run').linux.rootfsPropagation, 'rslave');
    // no shared or slave bind: no root propagation, no options (every mount is private already)
    c.config.host.mounts = [bind('/c', 'rprivate')];
    const plain = roundTrip(containerSpec(ctx, c, launch), 'run');
    assert.equal(plain.linux.rootfsPropagation, undefined);
    assert.deepEqual(opts(plain, '/c'), ['rbind']);
  });

  it('hooks, sysctl and a user namespace with its maps cross too (tsrun-init carries them out); an exec refuses hooks and sysctl', () => {
    const { spec } = specOf('dflt');
    const s = structuredClone(spec) as Json;
    s.hooks = {
      prestart: [{ path: '/bin/true', args: ['true', 'a'], env: ['A=1'], timeout: 5 }],
      createRuntime: [{ path: '/bin/true' }],
      createContainer: [{ path: '/bin/true' }],
      startContainer: [{ path: '/bin/true' }],
      poststart: [{ path: '/bin/true' }],
      poststop: [{ path: '/bin/true' }, { path: '/bin/false' }],
    };
    s.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmni': '1000' };
    s.linux.namespaces.push({ type: 'user' });
    s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 1000 }];
    const out = roundTrip(s, 'run');
    assert.equal(out.launcher.cloneFlags & 0x10000000, 0x10000000, 'CLONE_NEWUSER');
    const d = specOf('dflt');
    for (const [what, edit, msg] of [
      ['hooks', (x: Json) => (x.hooks = { prestart: [{ path: '/bin/true' }] }), /hooks are for a run/],
      ['sysctl', (x: Json) => (x.linux.sysctl = { 'net.ipv4.ip_forward': '1' }), /linux\.sysctl is for a run/],
    ] as [string, (x: Json) => void, RegExp][]) {
      const ex = structuredClone(execSpec(d.ctx, d.c, process.pid, ['/sys/fs/cgroup/x/cgroup.procs'], { args: ['ls'], env: [], cwd: '/', user: '', tty: false, openStdin: false, detach: false })) as Json;
      edit(ex);
      const r = dump(JSON.stringify(ex), 'exec');
      assert.equal(r.status, 1, what);
      assert.match(r.err, msg, what);
    }
  });

  it('refuses, in one line, what the launcher does not carry out', () => {
    const { spec } = specOf('dflt');
    const cases: [string, (s: Json) => void, RegExp][] = [
      ['a user namespace without maps', (s) => s.linux.namespaces.push({ type: 'user' }), /needs linux\.uidMappings/],
      ['a user namespace joined with maps given too (runc refuses it)', (s) => {
        s.linux.namespaces.push({ type: 'user', path: '/proc/1/ns/user' });
        s.linux.uidMappings = s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      }, /both namespace path and mapping specified -- you may only provide one/],
      ['a pid namespace joined by a run', (s) => (s.linux.namespaces.find((n: Json) => n.type === 'pid').path = '/proc/1/ns/pid'), /joins only user, net, ipc and uts namespaces by path/],
      ['unknown namespace', (s) => s.linux.namespaces.push({ type: 'bogus' }), /unknown namespace type bogus/],
      ['a wrong type', (s) => (s.process.args = 'sh'), /process\.args must be an array/],
      ['device rules without the cgroup dir', (s) => delete s.annotations['io.tsrun.cgroup.devices'], /need the annotation io\.tsrun\.cgroup\.devices/],
      ['propagation of a tmpfs', (s) => s.mounts.push({ destination: '/x', type: 'tmpfs', source: 'tmpfs', options: ['rshared'] }), /propagation of the non-bind mount on \/x/],
      ['an unknown version', (s) => (s.ociVersion = '2.0.0'), /unsupported ociVersion 2\.0\.0/],
      ['a bad annotation', (s) => (s.annotations['io.tsrun.overlay.lowerdirs'] = 'not json'), /must be a JSON array/],
    ];
    for (const [what, edit, msg] of cases) {
      const s = structuredClone(spec) as Json;
      edit(s);
      const d = dump(JSON.stringify(s), 'run');
      assert.equal(d.status, 1, `${what}: refused`);
      assert.match(d.err, msg, what);
      assert.equal(d.err.split('\n').length, 1, `${what}: one line`);
    }
  });
});
