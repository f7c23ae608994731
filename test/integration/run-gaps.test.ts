/**
 * Where `tsrun run` follows docker beyond the basics: -d --rm removes the
 * container when it exits, foreground output reaches `logs`, --privileged
 * sees the host's devices, --init -t hands the terminal to its child, and
 * the container's cgroup is mounted at /sys/fs/cgroup.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tsrun, tsrunOk, useBusyboxRoot } from '../helpers/cli.js';
import { PATIENCE, PtySession, inForeground, waitFor } from '../helpers/pty.js';

const t = useBusyboxRoot();


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Container IDs listed by `ps -a`. */
function psAll(): string[] {
  return tsrunOk(t().root, ['ps', '-a', '-q', '--no-trunc']).split('\n').filter(Boolean);
}

/** Cgroup dirs named tsrun-<id12> anywhere below /sys/fs/cgroup (a few levels deep). */
function cgroupDirsOf(id: string): string[] {
  const r = spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '6', '-type', 'd', '-name', `tsrun-${id.slice(0, 12)}`]);
  return r.stdout.toString().split('\n').filter(Boolean);
}

async function waitGone(id: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!psAll().includes(id) && !fs.existsSync(path.join(t().root, 'containers', id))) return true;
    await sleep(100);
  }
  return false;
}

/** The host's cgroup layout: v2 when cgroup2 is mounted at /sys/fs/cgroup itself. */
function hostCgroupV2(): boolean {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => / \/sys\/fs\/cgroup [^-]* - cgroup2 /.test(l));
}

describe('tsrun run: docker gaps', () => {

  it('run -d --rm removes the container and its cgroup when it exits', async () => {
    // it runs until the test lets it end (a file in a volume): `ps -a` of a slow CI machine comes
    // after a container's short sleep and its removal as well
    const gate = path.join(t().scratch, 'rm-gate');
    fs.mkdirSync(gate, { recursive: true });
    const id = tsrunOk(t().root, ['run', '-d', '--rm', '-v', `${gate}:/gate`, 'busybox', 'sh', '-c', 'until [ -e /gate/go ]; do sleep 0.1; done']).trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    assert.ok(psAll().includes(id), 'listed while it runs');
    fs.writeFileSync(path.join(gate, 'go'), '');
    assert.ok(await waitGone(id, PATIENCE), 'gone from ps -a after it exited');
    assert.deepEqual(cgroupDirsOf(id), []);
    // a container that exits before `run -d` has recorded its start: run still succeeds, then it is removed
    const quick = [0, 1, 2].map(() => tsrun(t().root, ['run', '-d', '--rm', 'busybox', 'true']));
    for (const r of quick) assert.equal(r.code, 0, r.stderr);
    for (const r of quick) assert.ok(await waitGone(r.stdout.trim(), PATIENCE));
  });

  it('start of a created --rm container removes it when it exits, detached or attached', async () => {
    const id = tsrunOk(t().root, ['create', '--rm', 'busybox', 'sh', '-c', 'sleep 0.2']).trim();
    tsrunOk(t().root, ['start', id]);
    assert.ok(await waitGone(id, PATIENCE));
    assert.deepEqual(cgroupDirsOf(id), []);
    const id2 = tsrunOk(t().root, ['create', '--rm', 'busybox', 'sh', '-c', 'echo attached; exit 4']).trim();
    const r = tsrun(t().root, ['start', '-a', id2]);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, 'attached\n');
    assert.ok(!psAll().includes(id2));
  });

  it('logs replays a foreground container on the right streams, with -t timestamps', () => {
    const r = tsrun(t().root, ['run', '--name', 'fg-logs', 'busybox', 'sh', '-c', 'echo out; echo err >&2; printf partial; exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'out\npartial');
    assert.equal(r.stderr, 'err\n');
    const logs = tsrun(t().root, ['logs', 'fg-logs']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, 'out\npartial');
    assert.equal(logs.stderr, 'err\n');
    const ts = tsrun(t().root, ['logs', '-t', 'fg-logs']);
    assert.match(ts.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z out\n\d{4}-\d\d-\d\dT[^ ]+Z partial$/);
    assert.match(ts.stderr, /^\d{4}-\d\d-\d\dT[^ ]+Z err\n$/);
    tsrunOk(t().root, ['rm', 'fg-logs']);
  });

  it('passes a large foreground output through unchanged', () => {
    const r = tsrun(t().root, ['run', '--rm', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done; echo tail >&2']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines.length, 3001);
    assert.equal(lines[2999], 'line 2999');
    assert.equal(r.stderr, 'tail\n');
  });

  it('logs shows the output of a -t container as stdout', () => {
    const r = tsrun(t().root, ['run', '-t', '--name', 'tty-logs', 'busybox', 'echo', 'on a tty']);
    assert.equal(r.code, 0, r.stderr);
    const logs = tsrun(t().root, ['logs', 'tty-logs']);
    assert.equal(logs.stdout, 'on a tty\r\n');
    assert.equal(logs.stderr, '');
    tsrunOk(t().root, ['rm', 'tty-logs']);
  });

  it('--privileged: host devices, full capabilities, nothing masked, /sys writable', () => {
    const skip = (n: string) => n.startsWith('tty') || ['console', 'ptmx'].includes(n);
    const hostDevs = fs.readdirSync('/dev').filter((n) => {
      const st = fs.lstatSync(path.join('/dev', n));
      return (st.isBlockDevice() || st.isCharacterDevice()) && !skip(n);
    });
    const priv = tsrunOk(t().root, ['run', '--rm', '--privileged', 'busybox', 'ls', '/dev']).split('\n');
    for (const d of hostDevs) assert.ok(priv.includes(d), `/dev/${d} in a privileged container`);
    assert.ok(!priv.includes('tty1'), 'no host virtual consoles');
    const plain = tsrunOk(t().root, ['run', '--rm', 'busybox', 'ls', '/dev']).split('\n');
    if (hostDevs.includes('loop0')) assert.ok(!plain.includes('loop0'), 'an unprivileged container has no loop devices');
    if (fs.existsSync('/dev/loop0')) {
      const ls = tsrunOk(t().root, ['run', '--rm', '--privileged', 'busybox', 'stat', '-c', '%F %t,%T', '/dev/loop0']).trim();
      assert.equal(ls, 'block special file 7,0');
    }

    const hostCapEff = /^CapEff:\s*(\w+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1];
    const status = tsrunOk(t().root, ['run', '--rm', '--privileged', 'busybox', 'cat', '/proc/self/status']);
    assert.equal(/^CapEff:\s*(\w+)$/m.exec(status)![1], hostCapEff);
    assert.match(status, /^Seccomp:\s*0$/m, 'seccomp unconfined');

    if (fs.existsSync('/proc/kcore')) {
      assert.equal(tsrunOk(t().root, ['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'head -c 16 /proc/kcore | wc -c']).trim(), '16');
    }
    if (fs.existsSync('/proc/timer_list')) {
      // masked (an empty /dev/null bind) unless privileged
      assert.notEqual(tsrunOk(t().root, ['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'head -c 16 /proc/timer_list | wc -c']).trim(), '0');
      assert.equal(tsrunOk(t().root, ['run', '--rm', 'busybox', 'sh', '-c', 'head -c 16 /proc/timer_list | wc -c']).trim(), '0');
    }
    const mi = tsrunOk(t().root, ['run', '--rm', '--privileged', 'busybox', 'cat', '/proc/self/mountinfo']);
    assert.match(mi, / \/sys rw,/);
    assert.doesNotMatch(mi, / \/proc\/sys ro,/);
  });

  it('--init -t gives the terminal to the child (its own process group in the foreground)', async () => {
    const stat = new PtySession(['--root', t().root, 'run', '--rm', '-t', '--init', '--network', 'none', 'busybox', 'sh', '-c', 'read a b c d pgrp sess tty tpgid rest < /proc/$$/stat; echo "pid=$$ pgrp=$pgrp tpgid=$tpgid"']);
    try {
      assert.equal(await stat.exit(), 0, stat.text);
      assert.match(stat.text, /pid=2 pgrp=2 tpgid=2\r*\n/);
    } finally {
      stat.kill();
    }
    // ^C from the terminal ends the child with SIGINT; PID 1 exits with its status
    const s = new PtySession(['--root', t().root, 'run', '--rm', '-it', '--init', '--network', 'none', '--name', 'init-tty', 'busybox', 'sleep', '30']);
    try {
      await s.untilRaw(); // the monitor copies keys to the container's terminal from now on
      // typed before init made sleep the terminal's foreground group, ^C would go to init
      const init = Number(tsrunOk(t().root, ['inspect', '-f', '{{.State.Pid}}', 'init-tty']).trim());
      await waitFor('sleep 30 in the foreground of its terminal', () => inForeground(init, ['sleep', '30']));
      const typed = Date.now();
      s.type('\x03');
      assert.equal(await s.exit(), 130);
      assert.ok(Date.now() - typed < 20_000, 'ended by the ^C, not by the end of sleep 30');
    } finally {
      s.kill();
    }
  });

  it('mounts the container cgroup at /sys/fs/cgroup, read-only unless privileged', () => {
    const v2 = hostCgroupV2();
    const memFile = v2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
    const script = `test -e ${memFile} && echo mem-ok; touch /sys/fs/cgroup/probe 2>/dev/null && echo writable || echo read-only; grep ' /sys/fs/cgroup ' /proc/self/mountinfo; cat /proc/self/cgroup`;
    const out = tsrunOk(t().root, ['run', '--rm', 'busybox', 'sh', '-c', script]);
    assert.match(out, /^mem-ok$/m);
    assert.match(out, /^read-only$/m);
    assert.match(out, / \/sys\/fs\/cgroup ro,/);
    // the cgroup namespace is rooted at the container's own cgroup
    const memLine = out.split('\n').find((l) => (v2 ? /^0::/.test(l) : /^\d+:memory:/.test(l)));
    assert.ok(memLine, out);
    assert.match(memLine, /:\/$/);
    if (!v2) {
      assert.match(out, /^mem-ok$/m);
      const sub = tsrunOk(t().root, ['run', '--rm', 'busybox', 'sh', '-c', 'touch /sys/fs/cgroup/memory/probe 2>/dev/null && echo writable || echo read-only']);
      assert.equal(sub.trim(), 'read-only');
    }
    const priv = tsrunOk(t().root, ['run', '--rm', '--privileged', 'busybox', 'grep', ' /sys/fs/cgroup', '/proc/self/mountinfo']);
    assert.match(priv, v2 ? / \/sys\/fs\/cgroup rw,/ : / \/sys\/fs\/cgroup\/memory rw,/);
  });
});
