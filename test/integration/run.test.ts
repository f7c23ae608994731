/**
 * tsrun run / create / start / exec against a busybox image, checked from
 * inside the container.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tsrun, tsrunOk, tsrunSpawn, snapshotTree, TSRUN, useBusyboxRoot } from '../helpers/cli.js';
import { PATIENCE, inForeground, sleep, waitFor } from '../helpers/pty.js';

const t = useBusyboxRoot();

const run = (args: string[], opts: { input?: string } = {}) => tsrun(t().root, ['run', '--rm', ...args], opts);
const out = (args: string[]) => {
  const r = run(args);
  assert.equal(r.code, 0, `run ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const containers = () => fs.readdirSync(path.join(t().root, 'containers')).filter((n) => /^[a-f0-9]{64}$/.test(n));

function assertFailsCleanly(args: string[], code: number, pattern?: RegExp) {
  const before = snapshotTree(t().root);
  const r = tsrun(t().root, args);
  assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, /^tsrun: [^\n]+\n$/);
  if (pattern) assert.match(r.stderr, pattern);
  assert.deepEqual(snapshotTree(t().root), before);
}

describe('tsrun run', () => {

  it('runs the command as PID 1 with its hostname', () => {
    assert.equal(out(['busybox', 'sh', '-c', 'echo $$']).trim(), '1');
    assert.equal(out(['-h', 'box1', 'busybox', 'hostname']).trim(), 'box1');
    assert.equal(out(['--hostname', 'box2', 'busybox', 'cat', '/etc/hostname']).trim(), 'box2');
  });

  it('resolves users and groups from the image', () => {
    assert.match(out(['busybox', 'id']), /^uid=0\(root\) gid=0\(root\)/);
    assert.equal(out(['-u', 'app', 'busybox', 'id']).trim(), 'uid=1000(app) gid=1000(app) groups=10(wheel),29(audio)');
    assert.equal(out(['-u', '1000:10', 'busybox', 'id']).trim(), 'uid=1000(app) gid=10(wheel)');
    assert.match(out(['-u', '4242', 'busybox', 'id']), /^uid=4242 gid=0\(root\)/);
    assert.equal(out(['-u', 'app', 'busybox', 'sh', '-c', 'echo $HOME']).trim(), '/home/app');
  });

  it('sets env from the image, -e, bare -e and --env-file', () => {
    const envFile = path.join(t().scratch, 'env');
    fs.writeFileSync(envFile, '# comment\nFROM_FILE=1\nB=file\n');
    const r = tsrun(t().root, ['run', '--rm', '--env-file', envFile, '-e', 'B=flag', '-e', 'HOSTVAR', '-e', 'UNSET_XYZ', 'busybox', 'env'], { env: { HOSTVAR: 'fromhost' } });
    assert.equal(r.code, 0, r.stderr);
    const env = r.stdout.split('\n');
    assert.ok(env.includes('FROM_FILE=1'));
    assert.ok(env.includes('B=flag'));
    assert.ok(env.includes('HOSTVAR=fromhost'));
    assert.ok(!env.some((e) => e.startsWith('UNSET_XYZ')));
    assert.ok(env.some((e) => e.startsWith('PATH=')));
  });

  it('honours -w, creating the directory', () => {
    assert.equal(out(['-w', '/new/dir', 'busybox', 'pwd']).trim(), '/new/dir');
  });

  it('passes exit codes and maps exec failures to 127/126', () => {
    const three = run(['busybox', 'sh', '-c', 'exit 3']);
    assert.equal(three.code, 3, three.stderr);
    const nf = run(['busybox', 'no-such-command']);
    assert.equal(nf.code, 127);
    assert.match(nf.stderr, /^tsrun: exec: "no-such-command": executable file not found in \$PATH/);
    const denied = run(['busybox', '/etc/passwd']);
    assert.equal(denied.code, 126);
    assert.match(denied.stderr, /^tsrun: [^\n]*permission denied[^\n]*\n$/);
    assert.deepEqual(containers(), [], '--rm removes failed containers too');
  });

  it("gives docker's default capabilities, --cap-drop ALL none, --privileged all", () => {
    assert.match(out(['busybox', 'grep', 'CapEff', '/proc/self/status']), /CapEff:\s+00000000a80425fb/);
    assert.match(out(['busybox', 'grep', 'CapBnd', '/proc/self/status']), /CapBnd:\s+00000000a80425fb/);
    assert.match(out(['--cap-drop', 'ALL', 'busybox', 'grep', 'CapEff', '/proc/self/status']), /CapEff:\s+0000000000000000/);
    assert.match(out(['--cap-drop', 'ALL', '--cap-add', 'CHOWN', 'busybox', 'grep', 'CapEff', '/proc/self/status']), /CapEff:\s+0000000000000001/);
    const priv = out(['--privileged', 'busybox', 'grep', 'CapEff', '/proc/self/status']);
    assert.ok(BigInt('0x' + /CapEff:\s+(\w+)/.exec(priv)![1]) > 0xa80425fbn);
    assert.match(out(['-u', 'app', 'busybox', 'grep', 'CapEff', '/proc/self/status']), /CapEff:\s+0000000000000000/);
  });

  it('mounts /proc, read-only /sys, /dev with the standard nodes, and masks paths', () => {
    const mounts = out(['busybox', 'cat', '/proc/mounts']);
    assert.match(mounts, /^proc \/proc proc rw,nosuid,nodev,noexec/m);
    assert.match(mounts, /^sysfs \/sys sysfs ro,/m);
    assert.match(mounts, /^devpts \/dev\/pts devpts /m);
    assert.match(mounts, / \/proc\/sys proc ro,/m);
    assert.match(mounts, /^tmpfs \/proc\/acpi tmpfs ro,/m);
    const dev = out(['busybox', 'ls', '/dev']).split('\n');
    for (const n of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm', 'mqueue', 'ptmx', 'fd', 'stdin', 'stdout', 'stderr']) assert.ok(dev.includes(n), `/dev/${n}`);
    assert.equal(out(['busybox', 'sh', '-c', 'echo hi > /dev/null && head -c 4 /dev/zero | wc -c']).trim(), '4');
    assert.equal(out(['busybox', 'sh', '-c', 'cat /proc/timer_list | wc -c']).trim(), '0');
    assert.equal(out(['busybox', 'ls', '/sys/firmware']).trim(), '');
  });

  it('leaks no file descriptors into the container', () => {
    assert.deepEqual(out(['busybox', 'ls', '/proc/self/fd']).trim().split('\n'), ['0', '1', '2', '3']);
  });

  it('supports --read-only, -v rw and ro, and --tmpfs', () => {
    assert.notEqual(run(['--read-only', 'busybox', 'touch', '/x']).code, 0);
    const vol = path.join(t().scratch, 'vol');
    fs.mkdirSync(vol);
    fs.writeFileSync(path.join(vol, 'in'), 'from-host');
    assert.equal(out(['-v', `${vol}:/data`, 'busybox', 'sh', '-c', 'cat /data/in; echo back > /data/out']).trim(), 'from-host');
    assert.equal(fs.readFileSync(path.join(vol, 'out'), 'utf8'), 'back\n');
    const ro = run(['-v', `${vol}:/data:ro`, 'busybox', 'touch', '/data/x']);
    assert.notEqual(ro.code, 0);
    assert.ok(!fs.existsSync(path.join(vol, 'x')));
    assert.match(out(['--tmpfs', '/scratch:size=1m', 'busybox', 'sh', '-c', 'grep /scratch /proc/mounts']), /^tmpfs \/scratch tmpfs rw,nosuid,nodev,relatime,size=1024k/);
    assert.match(out(['--read-only', '--tmpfs', '/tmp', 'busybox', 'sh', '-c', 'touch /tmp/ok && echo ok']), /ok/);
  });

  it('isolates the network with --network none and shares it with host', () => {
    assert.equal(out(['--network', 'none', 'busybox', 'ls', '/sys/class/net']).trim(), 'lo');
    assert.match(out(['--network', 'none', 'busybox', 'cat', '/sys/class/net/lo/operstate']), /unknown|up/);
    // interfaces of other test files (veths, bridges, podman's and docker's) come and go meanwhile:
    // the container sees every one present before and after its run, and none that never was
    const before = fs.readdirSync('/sys/class/net');
    const seen = out(['--network', 'host', 'busybox', 'ls', '/sys/class/net']).trim().split('\n');
    const after = fs.readdirSync('/sys/class/net');
    for (const n of before.filter((x) => after.includes(x))) assert.ok(seen.includes(n), `the host's ${n} is missing in ${seen.join(' ')}`);
    for (const n of seen) assert.ok(before.includes(n) || after.includes(n) || /^(veth|tsr)/.test(n), `${n} is not the host's`);
  });

  it('--rm removes the container; without it the record stays exited', () => {
    const before = containers().length;
    out(['busybox', 'true']);
    assert.equal(containers().length, before);
    assert.equal(tsrun(t().root, ['run', '--name', 'kept', 'busybox', 'sh', '-c', 'exit 5']).code, 5);
    const id = containers().find((c) => JSON.parse(fs.readFileSync(path.join(t().root, 'containers', c, 'config.json'), 'utf8')).name === 'kept')!;
    const state = JSON.parse(fs.readFileSync(path.join(t().root, 'containers', id, 'state.json'), 'utf8'));
    assert.equal(state.status, 'exited');
    assert.equal(state.exitCode, 5);
    assertFailsCleanly(['run', '--name', 'kept', 'busybox', 'true'], 125, /already in use/);
  });

  it('-d prints the ID, logs output as json-file lines and records the exit', async () => {
    const id = tsrunOk(t().root, ['run', '-d', 'busybox', 'sh', '-c', 'echo out1; echo err1 >&2; exit 4']).trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    const exitFile = path.join(t().root, 'containers', id, 'exit.json');
    await waitFor('the exit recorded', () => fs.existsSync(exitFile)); // written whole (a rename)
    const exit = JSON.parse(fs.readFileSync(exitFile, 'utf8'));
    assert.equal(exit.exitCode, 4);
    assert.match(exit.finishedAt, /^\d{4}-\d\d-\d\dT/);
    const lines = fs.readFileSync(path.join(t().root, 'containers', id, 'ctr.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => [l.stream, l.log]).sort(), [['stderr', 'err1\n'], ['stdout', 'out1\n']]);
    assert.match(lines[0].time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  });

  it('create then start -a runs the created container; start refuses a running one', () => {
    const id = tsrunOk(t().root, ['create', '--name', 'c1', 'busybox', 'sh', '-c', 'echo started; exit 6']).trim();
    assert.equal(JSON.parse(tsrunOk(t().root, ['inspect', id]))[0].State.Status, 'created');
    const r = tsrun(t().root, ['start', '-a', 'c1']);
    assert.equal(r.code, 6);
    assert.equal(r.stdout, 'started\n');
    // removed here: its end (a monitor writing state) inside a later test's before/after snapshots changes them
    tsrunOk(t().root, ['run', '-d', '--network', 'none', '--name', 'long', 'busybox', 'sleep', '1000']);
    assert.equal(tsrunOk(t().root, ['start', 'long']), 'long\n', 'starting a running container is not an error (docker)');
    tsrunOk(t().root, ['rm', '-f', 'long']);
  });

  it('exec joins the running container with the same confinement', () => {
    tsrunOk(t().root, ['run', '-d', '--name', 'ex', '-h', 'exhost', 'busybox', 'sleep', '1000']);
    const r = tsrun(t().root, ['exec', 'ex', 'sh', '-c', 'hostname; ps -o pid,comm | grep -c sleep; grep CapEff /proc/self/status; cat /proc/1/cmdline | tr "\\0" " "']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^exhost\n1\nCapEff:\s+00000000a80425fb\nsleep 1000/);
    assert.equal(tsrun(t().root, ['exec', 'ex', 'sh', '-c', 'exit 9']).code, 9);
    assert.equal(tsrunOk(t().root, ['exec', '-u', 'app', '-w', '/tmp', '-e', 'X=1', 'ex', 'sh', '-c', 'id -u; pwd; echo $X']), '1000\n/tmp\n1\n');
    assert.equal(tsrun(t().root, ['exec', 'ex', 'nope']).code, 127);
    assertFailsCleanly(['exec', 'kept', 'true'], 1, /not running/);
    tsrunOk(t().root, ['rm', '-f', 'ex']);
  });

  it('--init reaps zombies as PID 1', () => {
    // the orphaned sleep ends, then PID 1 reaps it: until its /proc entry goes (running or a zombie:
    // a moment after its end it is one even under a reaping init; without one it stays so, 30 s)
    const orphan = '(sleep 0.1 & echo $! > /tmp/orphan); p=$(cat /tmp/orphan); i=0; while [ $i -lt 300 ] && [ -e /proc/$p ]; do sleep 0.1; i=$((i+1)); done';
    const ps = out(['--init', 'busybox', 'sh', '-c', `${orphan}; ps -o stat,comm; [ -e /proc/$p ] && echo orphan-left; true`]);
    assert.doesNotMatch(ps, /^Z/m);
    assert.doesNotMatch(ps, /orphan-left/);
    assert.match(out(['--init', 'busybox', 'sh', '-c', 'echo $$']), /^[2-9]/);
    // PID 1 shows a plain name, not the launcher's host path and launch arguments (cgroup paths)
    assert.equal(out(['--init', 'busybox', 'sh', '-c', 'tr -d "\\0" < /proc/1/cmdline; echo; cat /proc/1/comm']), 'tsrun-init\ntsrun-init\n');
  });

  it('applies --ulimit', () => {
    assert.equal(out(['--ulimit', 'nofile=100:200', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn']), '100\n200\n');
    assertFailsCleanly(['run', '--ulimit', 'bogus=1', 'busybox', 'true'], 125, /invalid ulimit/);
  });

  it('forwards SIGTERM sent to tsrun to the container', async () => {
    const child = tsrunSpawn(t().root, ['run', '--rm', 'busybox', 'sh', '-c', 'trap "exit 42" TERM; echo ready; while true; do sleep 0.1; done']);
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 42);
  });

  it('a SIGTERM that comes while the container is still being started reaches it once it runs', async () => {
    // tsrun installs its forwarding before it creates the container, and queues what comes
    // before the container's PID is known: a SIGTERM sent as soon as the container's dir
    // exists must neither kill tsrun nor get lost
    const dir = path.join(t().root, 'containers');
    const before = new Set(fs.existsSync(dir) ? fs.readdirSync(dir) : []);
    // --init: a signal that reaches the process before its trap is set still ends it (a namespace's
    // PID 1 would ignore it, as the kernel does for an init without a handler)
    const child = tsrunSpawn(t().root, ['run', '--rm', '--init', '--network', 'none', 'busybox', 'sh', '-c', 'trap "exit 42" TERM; sleep 30 & wait']);
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    for (let i = 0; i < 20_000 && !(fs.existsSync(dir) && fs.readdirSync(dir).some((d) => !before.has(d))); i++) await new Promise((r) => setTimeout(r, 1));
    child.kill('SIGTERM');
    const r = await exited;
    assert.equal(r.signal, null, 'tsrun was not killed by the signal');
    // 42 once the shell has set its trap, 143 (128+TERM) when the signal came first: the container got it either way
    assert.ok(r.code === 42 || r.code === 143, `exit ${r.code}: the container's status`);
  });

  it('a SIGKILLed foreground tsrun leaves the container accounted for; rm -f cleans it', async () => {
    const child = tsrunSpawn(t().root, ['run', '--name', 'orphan', 'busybox', 'sh', '-c', 'echo ready; sleep 30']);
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    const ps = tsrunOk(t().root, ['ps']);
    assert.match(ps, /orphan/);
    tsrunOk(t().root, ['rm', '-f', 'orphan']);
    assert.doesNotMatch(tsrunOk(t().root, ['ps', '-a']), /orphan/);
  });

  it('gives -t a pty from the container devpts, sized like the terminal', () => {
    const cmd = `stty rows 33 cols 111; ${process.execPath} ${TSRUN} --root ${t().root} run --rm -t busybox sh -c 'tty; stty size'`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { timeout: 120_000 });
    const text = r.stdout.toString().replace(/\r/g, '');
    assert.match(text, /\/dev\/pts\/0\n33 111/);
  });

  it('-it: the window size follows the terminal, job control and ^C work (driven through tmux)', async () => {
    const session = `tsrun-test-${process.pid}`;
    const tmux = (...args: string[]) => spawnSync('tmux', args, { encoding: 'utf8' });
    const screen = () => tmux('capture-pane', '-t', session, '-p').stdout;
    const until = async (re: RegExp) => {
      for (const end = Date.now() + PATIENCE; Date.now() < end && !re.test(screen()); ) await sleep(100);
      assert.match(screen(), re);
    };
    // ^Z and ^C reach the terminal's foreground group: typed only once the command is it (typed
    // while the shell is still starting it, they would go to the shell, or be read as data)
    let shell = 0;
    const foreground = (...argv: string[]) => waitFor(`${argv.join(' ')} in the foreground`, () => inForeground(shell, argv));
    tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', `${process.execPath} ${TSRUN} --root ${t().root} run -it --rm --network none --name itjob busybox sh; echo tsrun-exited-$?; sleep 30`);
    try {
      await until(/^\/ #$/m); // copied once the monitor made the terminal raw: keys reach the shell from now on
      shell = Number(tsrunOk(t().root, ['inspect', '-f', '{{.State.Pid}}', 'itjob']).trim());
      tmux('send-keys', '-t', session, 'stty size', 'Enter');
      await until(/^30 100$/m);
      // tmux resizes its pane's terminal a moment after the command: ask until the shell sees it
      tmux('resize-window', '-t', session, '-x', '80', '-y', '20');
      for (const end = Date.now() + PATIENCE; Date.now() < end && !/^20 80$/m.test(screen()); await sleep(500)) tmux('send-keys', '-t', session, 'stty size', 'Enter');
      await until(/^20 80$/m);
      tmux('send-keys', '-t', session, 'sleep 100', 'Enter');
      await foreground('sleep', '100');
      tmux('send-keys', '-t', session, 'C-z');
      await until(/Stopped/);
      tmux('send-keys', '-t', session, 'kill -9 %1; sleep 50', 'Enter');
      await foreground('sleep', '50');
      tmux('send-keys', '-t', session, 'C-c');
      tmux('send-keys', '-t', session, 'echo after-interrupt', 'Enter');
      await until(/^after-interrupt$/m);
      tmux('send-keys', '-t', session, 'exit 3', 'Enter');
      // tsrun itself returns the shell's status, after its --rm cleanup: nothing is left in flight
      await until(/^tsrun-exited-3$/m);
    } finally {
      tmux('kill-session', '-t', session);
    }
  });

  it('refuses bad input with one line and no change to the store', () => {
    assertFailsCleanly(['run', '--pull', 'never', 'no-such-image'], 125, /No such image/);
    assertFailsCleanly(['run', '--network', 'no-such-network', 'busybox', 'true'], 125, /network no-such-network not found/);
    assertFailsCleanly(['run', '-v', 'a/b:/x', 'busybox', 'true'], 125, /includes invalid characters for a local volume name/);
    assertFailsCleanly(['run', '-w', 'rel', 'busybox', 'true'], 125);
    assertFailsCleanly(['run', '--cap-add', 'NOPE', 'busybox', 'true'], 125, /unknown capability/);
    assertFailsCleanly(['run', '--security-opt', 'seccomp=/nonexistent.json', 'busybox', 'true'], 125);
    assertFailsCleanly(['exec', 'nope', 'true'], 1, /No such container/);
  });

  it('runs 50 containers at once and cleans them all up', async () => {
    const before = containers().length;
    const procs = Array.from({ length: 50 }, (_, i) => tsrunSpawn(t().root, ['run', '--rm', 'busybox', 'sh', '-c', `echo n${i}`]));
    const results = await Promise.all(
      procs.map(
        (p) =>
          new Promise<{ code: number | null; out: string }>((resolve) => {
            let o = '';
            p.stdout.on('data', (d: Buffer) => (o += d.toString()));
            p.on('exit', (code) => resolve({ code, out: o }));
          }),
      ),
    );
    results.forEach((r, i) => {
      assert.equal(r.code, 0);
      assert.equal(r.out, `n${i}\n`);
    });
    assert.equal(containers().length, before);
  });
});
