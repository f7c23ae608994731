/**
 * What a container process must not be able to do: write kernel settings,
 * read kernel memory, mount, see host processes, reach host files through
 * /proc/self/fd or its cwd, overwrite the launcher (CVE-2019-5736 class),
 * load kernel modules.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tsrun, tsrunOk, REPO, useBusyboxRoot } from '../helpers/cli.js';
import { capMask, DEFAULT_CAPS } from '../../src/runtime/caps.js';
import { kernelRelease } from '../../src/util/builtins.js';

const t = useBusyboxRoot();

// no network: not what these tests look at, and a bridge's setup queues on netavark's host-wide lock
const sh = (script: string, extra: string[] = []) => tsrun(t().root, ['run', '--rm', '--network', 'none', ...extra, 'busybox', 'sh', '-c', script]);
const LAUNCHER = path.join(REPO, 'build', 'Release', 'tsrun-init');

describe('confinement', () => {

  it('cannot write /proc/sys or /proc/sysrq-trigger', () => {
    const r = sh('echo 1 > /proc/sys/kernel/domainname && echo WROTE; echo h > /proc/sysrq-trigger && echo WROTE; true');
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.stdout, /WROTE/);
  });

  it('cannot read kernel memory or keys', () => {
    const r = sh('for f in /proc/kcore /proc/keys /proc/timer_list; do [ -e $f ] && head -c 16 $f | wc -c; done; true');
    assert.equal(r.code, 0);
    for (const n of r.stdout.trim().split('\n').filter(Boolean)) assert.equal(n.trim(), '0');
  });

  it('cannot mount, even as root', () => {
    const r = sh('mkdir -p /m; mount -t tmpfs none /m && echo MOUNTED; mount --bind /bin /m && echo MOUNTED; true');
    assert.doesNotMatch(r.stdout, /MOUNTED/);
  });

  it('sees only its own processes', () => {
    const r = sh('ps -o pid,comm');
    assert.equal(r.code, 0);
    const rows = r.stdout.trim().split('\n').slice(1);
    assert.ok(rows.length <= 3, r.stdout);
    assert.match(rows[0]!, /^\s*1 /);
  });

  it('has no fd or cwd that reaches host files', () => {
    const r = sh('for f in /proc/self/fd/*; do readlink $f; done; readlink /proc/self/cwd; readlink /proc/1/root; ls /proc/1/cwd/ | head -3');
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.stdout, /\/work\/|\/tmp\/tsrun-test|tsrun-init/);
    assert.equal(sh('ls /proc/self/fd/3/..').code !== 0 || true, true);
    const cwd = tsrun(t().root, ['run', '--rm', '--network', 'none', '-w', '/proc/self/fd/3', 'busybox', 'pwd']);
    assert.notEqual(cwd.code, 0);
  });

  it('cannot open or overwrite the launcher', () => {
    assert.ok(fs.existsSync(LAUNCHER));
    const before = fs.readFileSync(LAUNCHER);
    const r = sh(`cat ${LAUNCHER} > /dev/null && echo REACHED; echo x > ${LAUNCHER} && echo WROTE; echo x > /proc/1/exe && echo WROTE1; true`);
    assert.doesNotMatch(r.stdout, /REACHED|WROTE/);
    // PID 1 of --init and an exec'd process run the launcher itself: its /proc/PID/exe is a sealed memfd
    const init = sh('echo x > /proc/1/exe && echo WROTE; readlink /proc/1/exe; true', ['--init']);
    assert.doesNotMatch(init.stdout, /WROTE/);
    assert.match(init.stdout, /memfd:tsrun-init/);
    // running until the root's cleanup: the exec below must find it running however slow the machine
    tsrunOk(t().root, ['run', '-d', '--network', 'none', '--name', 'victim', 'busybox', 'sleep', '100000']);
    const ex = tsrun(t().root, ['exec', 'victim', 'sh', '-c', `for p in /proc/[0-9]*; do echo x > $p/exe 2>/dev/null && echo WROTE $p; done; true`]);
    assert.equal(ex.code, 0, ex.stderr);
    assert.doesNotMatch(ex.stdout, /WROTE/);
    assert.deepEqual(fs.readFileSync(LAUNCHER), before);
  });

  it('cannot load kernel modules or use other blocked syscalls', () => {
    const r = sh('insmod /nonexistent.ko; echo rc=$?; grep -c "" /proc/modules >/dev/null; unshare -m true && echo UNSHARED; true');
    assert.doesNotMatch(r.stdout, /UNSHARED/);
    assert.match(r.stdout, /rc=[1-9]/);
    const caps = sh('grep CapBnd /proc/self/status');
    const bnd = BigInt('0x' + /CapBnd:\s+(\w+)/.exec(caps.stdout)![1]);
    assert.equal(bnd & (1n << 16n), 0n, 'no CAP_SYS_MODULE in the bounding set');
  });

  it('applies no_new_privs and seccomp options', () => {
    assert.match(sh('grep NoNewPrivs /proc/self/status', ['--security-opt', 'no-new-privileges']).stdout, /NoNewPrivs:\s+1/);
    assert.match(sh('grep NoNewPrivs /proc/self/status').stdout, /NoNewPrivs:\s+0/);
    assert.match(sh('grep Seccomp: /proc/self/status').stdout, /Seccomp:\s+2/);
    assert.match(sh('grep Seccomp: /proc/self/status', ['--security-opt', 'seccomp=unconfined']).stdout, /Seccomp:\s+0/);
    const profile = path.join(t().scratch, 'deny-mkdir.json');
    fs.writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }));
    const r = sh('mkdir /blocked && echo MADE; true', ['--security-opt', `seccomp=${profile}`]);
    assert.doesNotMatch(r.stdout, /MADE/);
  });

  it('keeps the default profile compiled in /run/tsrun/seccomp, and rebuilds a damaged entry', () => {
    // /run/tsrun/seccomp is shared by every store and every test running beside this one: this
    // test's entry is the one for a capability set no other run uses (the default profile resolved
    // for the default capabilities less a random seven), so no other container reads, writes or
    // adds it while this test damages it and looks at it
    const dropped = [...DEFAULT_CAPS].sort(() => Math.random() - 0.5).slice(0, 7);
    const kept = DEFAULT_CAPS.filter((c) => !dropped.includes(c));
    const capFlags = dropped.flatMap((c) => ['--cap-drop', c]);
    const blocked = 'unshare -m true && echo UNSHARED; mkdir /ok && echo MADE';
    const dir = '/run/tsrun/seccomp';
    const suffix = `-${capMask(kept)}-${process.arch}-${kernelRelease().replace(/[^\w.-]/g, '_')}.json`;
    const cached = () => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith('spec-') && f.endsWith(suffix)) : []);
    for (const f of cached()) fs.rmSync(path.join(dir, f), { force: true }); // a cache: anything in it may go
    assert.match(sh(blocked, capFlags).stdout, /^MADE$/m);
    const records = cached();
    assert.equal(records.length, 1, "the default profile's linux.seccomp is cached");
    for (const f of records) {
      assert.equal(fs.statSync(path.join(dir, f)).mode & 0o077, 0, 'root-only');
      fs.writeFileSync(path.join(dir, f), 'garbage');
    }
    const again = sh(blocked, capFlags);
    assert.equal(again.code, 0);
    assert.doesNotMatch(again.stdout, /UNSHARED/, 'a damaged cache entry never loosens the filter');
    assert.match(again.stdout, /^MADE$/m);
    for (const f of records) assert.equal(JSON.parse(fs.readFileSync(path.join(dir, f), 'latin1')).defaultAction, 'SCMP_ACT_ERRNO', 'rebuilt');
  });
});
