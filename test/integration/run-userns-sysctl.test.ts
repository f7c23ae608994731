/**
 * `tsrun run`/`create` with --sysctl (docker's: namespaced sysctls only),
 * --userns host|ns:PATH (podman's ns:PATH joins a user namespace) and
 * --uidmap/--gidmap (podman's: a new user namespace with those maps; the
 * image's layers are idmapped into it, so its files are root's inside), each
 * through the real CLI: what the container sees, what inspect shows, exec
 * into such a container, and bad input (one line, 125, store unchanged).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { snapshotTree, tsrun, tsrunOk, useBusyboxRoot } from '../helpers/cli.js';

const t = useBusyboxRoot();
const lines = (s: string) => s.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));

before(() => {
  // root of a user namespace is a plain uid on the host: it must be able to pass the test's
  // temp dir on its way to the store (the store's own dirs tsrun makes searchable itself)
  fs.chmodSync(path.dirname(t().root), 0o711);
});

describe('--sysctl', () => {
  it('sets namespaced sysctls inside the container, shown in inspect (HostConfig.Sysctls)', () => {
    const out = tsrunOk(t().root, ['run', '--name', 'sc', '--network', 'none', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.shmmax=123456789',
      'busybox', 'cat', '/proc/sys/net/ipv4/ip_forward', '/proc/sys/kernel/shmmax']);
    assert.deepEqual(lines(out), ['1', '123456789']);
    const [info] = JSON.parse(tsrunOk(t().root, ['inspect', 'sc']));
    assert.deepEqual(info.HostConfig.Sysctls, { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '123456789' });
    assert.equal(info.HostConfig.UsernsMode, '');
    // the host's own values are untouched
    assert.notEqual(fs.readFileSync('/proc/sys/kernel/shmmax', 'utf8').trim(), '123456789');
    tsrunOk(t().root, ['rm', 'sc']);
  });

  it('refuses a sysctl that is not namespaced, and net.* with the host network (one line, 125, nothing written)', () => {
    const before = snapshotTree(t().root);
    for (const [args, msg] of [
      [['--sysctl', 'kernel.hostname=x'], /invalid argument "kernel\.hostname=x" for "--sysctl" flag: sysctl 'kernel\.hostname=x' is not allowed/],
      [['--sysctl', 'vm.swappiness=10'], /sysctl 'vm\.swappiness=10' is not allowed/],
      [['--sysctl', 'net.ipv4.ip_forward'], /sysctl 'net\.ipv4\.ip_forward' is not allowed/],
      [['--network', 'host', '--sysctl', 'net.ipv4.ip_forward=1'], /sysctl "net\.ipv4\.ip_forward" not allowed in host network namespace/],
    ] as [string[], RegExp][]) {
      for (const verb of ['run', 'create']) {
        const r = tsrun(t().root, [verb, ...args, 'busybox', 'true']);
        assert.equal(r.code, 125, `${verb} ${args.join(' ')}`);
        assert.match(r.stderr, msg);
        assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
      }
    }
    assert.deepEqual(snapshotTree(t().root), before, 'the store is as it was');
  });
});

describe('--uidmap, --gidmap, --userns', () => {
  it('--uidmap runs in a new user namespace with the map; the image is root\'s inside, not chowned; exec joins it; inspect shows it', () => {
    tsrunOk(t().root, ['run', '-d', '--name', 'um', '--uidmap', '0:100000:65536', 'busybox', 'sleep', '100000']); // rm -f below
    const run = tsrunOk(t().root, ['exec', 'um', 'sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u /bin/busybox /; touch /etc/made; stat -c %u /etc/made']);
    assert.deepEqual(lines(run), ['0 100000 65536', '0 100000 65536', '0', '0', '0', '0'], 'in the namespace, root; the image\'s files and / are root\'s');
    const [info] = JSON.parse(tsrunOk(t().root, ['inspect', 'um']));
    assert.equal(info.HostConfig.UsernsMode, 'private');
    assert.deepEqual(info.HostConfig.IDMappings, { UidMap: ['0:100000:65536'], GidMap: ['0:100000:65536'] });
    // on the host: what the container wrote belongs to the mapped uid; the image layer is untouched
    const upper = info.GraphDriver.Data.UpperDir;
    assert.equal(fs.statSync(path.join(upper, 'etc', 'made')).uid, 100000);
    const lower = info.GraphDriver.Data.LowerDir.split(':')[0];
    assert.equal(fs.statSync(path.join(lower, 'bin', 'busybox')).uid, 0, 'the layer is not chowned');
    const holder = info.State.Pid as number;
    assert.ok(holder > 0);
    assert.match(fs.readFileSync(`/proc/${holder}/status`, 'utf8'), /^Uid:\s+100000\s/m, 'the container\'s process is uid 100000 on the host');

    // --userns ns:PATH: a second container joins that user namespace (podman's form)
    const joined = tsrunOk(t().root, ['run', '--rm', '--network', 'none', '--userns', `ns:/proc/${holder}/ns/user`, 'busybox', 'sh', '-c', 'cat /proc/self/uid_map; id -u; readlink /proc/self/ns/user']);
    assert.deepEqual(lines(joined), ['0 100000 65536', '0', fs.readlinkSync(`/proc/${holder}/ns/user`)]);
    tsrunOk(t().root, ['rm', '-f', 'um']);
  });

  it('--gidmap of its own; --userns host is the host\'s namespace (docker\'s only value)', () => {
    const out = tsrunOk(t().root, ['run', '--rm', '--network', 'none', '--uidmap', '0:200000:1000', '--gidmap', '0:300000:1000', 'busybox', 'sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map']);
    assert.deepEqual(lines(out), ['0 200000 1000', '0 300000 1000']);
    const host = tsrunOk(t().root, ['run', '--name', 'uh', '--userns', 'host', '--network', 'none', 'busybox', 'readlink', '/proc/self/ns/user']);
    assert.equal(host.trim(), fs.readlinkSync('/proc/self/ns/user'));
    const [info] = JSON.parse(tsrunOk(t().root, ['inspect', 'uh']));
    assert.equal(info.HostConfig.UsernsMode, 'host');
    tsrunOk(t().root, ['rm', 'uh']);
  });

  it('bad input: one line, 125, the store as it was', () => {
    const before = snapshotTree(t().root);
    for (const [args, msg] of [
      [['--userns', 'keep-id'], /--userns: invalid USER mode/],
      [['--userns', 'ns:/nonexistent/ns'], /--userns: user namespace \/nonexistent\/ns does not exist/],
      [['--uidmap', '0:100000'], /invalid --uidmap "0:100000"/],
      [['--uidmap', '0:100000:0'], /invalid --uidmap "0:100000:0"/],
      [['--uidmap', '1:100000:10'], /invalid --uidmap: container ID 0 is not mapped/],
      [['--uidmap', '0:100000:65536', '--userns', 'host'], /conflicting options: --userns and --uidmap\/--gidmap/],
      [['--uidmap', '0:100000:65536', '--privileged'], /privileged mode is incompatible with user namespaces/],
      [['--uidmap', '0:100000:65536', '--network', 'host'], /cannot share the host's network namespace when user namespaces are enabled/],
    ] as [string[], RegExp][]) {
      for (const verb of ['run', 'create']) {
        const r = tsrun(t().root, [verb, ...args, 'busybox', 'true']);
        assert.equal(r.code, 125, `${verb} ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, msg);
        assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
      }
    }
    assert.deepEqual(snapshotTree(t().root), before, 'the store is as it was');
  });
});
