/**
 * tsrun attach and the detach keys, through the real CLI on real terminals
 * (test/helpers/pty.ts: python3's pty module): attach to `run -dit`, type,
 * detach with ctrl-p ctrl-q, attach again, exit with a code; `run -it` and
 * `start -ai` detached and attached again; two clients at once; plain stdio
 * with `run -di`; --no-stdin; --sig-proxy; custom keys from the flag and from
 * config.json; the errors, which change nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tsrun, tsrunOk, tsrunSpawn, snapshotTree, useBusyboxRoot } from '../helpers/cli.js';
import { PtySession, PATIENCE, SIGWINCH, catches, sleep, waitFor } from '../helpers/pty.js';

// Containers here have no network (--network none): a bridge's setup and teardown wait for the one
// host-wide netavark lock, which other tests' networks may hold for many seconds on a busy machine.
const t = useBusyboxRoot();
const root = () => t().root;
const state = (name: string) => tsrunOk(root(), ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]).trim();
const pty = (args: string[], env?: Record<string, string>) => new PtySession(['--root', root(), ...args], env);

/** Until the container's state is `want` (a monitor records the exit a moment after the process ends). */
async function waitState(name: string, want: RegExp): Promise<void> {
  for (const end = Date.now() + PATIENCE; Date.now() < end && !want.test(state(name)); ) await sleep(100);
  assert.match(state(name), want);
}

/**
 * Until the container's shell (its PID 1) waits at its prompt, its SIGWINCH handler in place:
 * only then does the resize an attach makes have the shell redraw its prompt (between printing
 * the prompt and installing the handler, or while it runs a command, the signal goes unseen).
 */
async function atPrompt(name: string): Promise<void> {
  const pid = Number(tsrunOk(root(), ['inspect', '-f', '{{.State.Pid}}', name]).trim());
  await waitFor(`${name}'s shell at its prompt`, () => catches(pid, SIGWINCH));
}

/** A spawned `tsrun attach` with pipes: its output as it comes, and its status. */
function attachPiped(args: string[]) {
  const child = tsrunSpawn(root(), ['attach', ...args]);
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig === 'SIGTERM' ? 143 : 128))));
  const until = async (re: RegExp, which: 'stdout' | 'stderr' = 'stdout') => {
    for (const end = Date.now() + PATIENCE; Date.now() < end && !re.test(out[which]); ) await sleep(100);
    assert.match(out[which], re);
  };
  return { child, out, exited, until };
}

describe('tsrun attach and the detach keys', () => {
  it('attaches a terminal to run -dit, detaches with ctrl-p ctrl-q, attaches again and ends with the exit code', async () => {
    tsrunOk(root(), ['run', '--network', 'none', '-dit', '--name', 'sh1', 'busybox', 'sh']);
    await atPrompt('sh1');
    const a = pty(['attach', 'sh1']);
    try {
      await a.until(/# /); // the shell redraws its prompt on attach's resize (docker's trick)
      a.type('echo hello-$((6*7))\r');
      await a.until(/hello-42/);
      await a.keys('\x10', '\x11');
      // docker's client: the escape sequence ends attach with this line and status 1
      assert.equal(await a.exit(), 1);
      assert.match(a.text, /read escape sequence/);
    } finally {
      a.kill();
    }
    assert.equal(state('sh1'), 'running 0');
    assert.match(tsrunOk(root(), ['ps']), /Up .* sh1/);

    await atPrompt('sh1');
    const b = pty(['attach', 'sh1']);
    try {
      await b.until(/# /);
      b.type('echo again-$((2+3))\r');
      await b.until(/again-5/);
      // the client's terminal size reaches the container's pty, on attach and on every change
      b.type('stty size\r');
      await b.until(/\r\n24 80\r\n/);
      const at = b.text.length;
      // typed right after the resize: the client sends the new size before the keys that came after it
      await b.resize();
      b.type('stty size\r');
      await b.until(/\r\n30 100\r\n/, PATIENCE, at);
      b.type('exit 7\r');
      assert.equal(await b.exit(), 7);
    } finally {
      b.kill();
    }
    await waitState('sh1', /^exited 7$/);
    // the socket goes with the monitor: attach to what stopped is docker's error
    const r = tsrun(root(), ['attach', 'sh1']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'tsrun: You cannot attach to a stopped container, start it first\n');
    tsrunOk(root(), ['rm', 'sh1']);
  });

  it('run -it: the detach keys let tsrun go with status 0, the container runs on, attach and stop work after', async () => {
    const r = pty(['run', '--network', 'none', '-it', '--name', 'fg1', 'busybox', 'sh']);
    try {
      await r.until(/# /);
      r.type('echo inside-$((3*3))\r');
      await r.until(/inside-9/);
      await r.keys('\x10', '\x11');
      assert.equal(await r.exit(), 0); // all its output is in by then
      assert.doesNotMatch(r.text, /read escape sequence/); // run says nothing (docker's run -it neither)
    } finally {
      r.kill();
    }
    assert.equal(state('fg1'), 'running 0');
    await atPrompt('fg1');
    const a = pty(['attach', 'fg1']);
    try {
      await a.until(/# /);
      a.type('echo back-$((4*4))\r');
      await a.until(/back-16/);
      await a.keys('\x10', '\x11');
      assert.equal(await a.exit(), 1);
    } finally {
      a.kill();
    }
    const stop = tsrun(root(), ['stop', '-t', '1', 'fg1']);
    assert.equal(stop.code, 0, stop.stderr);
    await waitState('fg1', /^exited /);
    tsrunOk(root(), ['rm', 'fg1']);
  });

  it('run -it --rm detached: the monitor removes the container once it exits', async () => {
    const r = pty(['run', '--network', 'none', '-it', '--rm', '--name', 'fgrm', 'busybox', 'sh']);
    try {
      await r.until(/# /);
      await r.keys('\x10', '\x11');
      assert.equal(await r.exit(), 0);
    } finally {
      r.kill();
    }
    assert.equal(state('fgrm'), 'running 0');
    await atPrompt('fgrm');
    const a = pty(['attach', 'fgrm']);
    try {
      await a.until(/# /);
      a.type('exit 4\r');
      assert.equal(await a.exit(), 4);
    } finally {
      a.kill();
    }
    for (const end = Date.now() + PATIENCE; Date.now() < end && tsrun(root(), ['inspect', 'fgrm']).code === 0; ) await sleep(100);
    assert.equal(tsrun(root(), ['inspect', 'fgrm']).code, 1, 'removed by its monitor');
  });

  it('start -ai: detaches quietly with status 0; start -ai of a running container attaches to it', async () => {
    tsrunOk(root(), ['create', '--network', 'none', '-it', '--name', 'st1', 'busybox', 'sh']);
    const s = pty(['start', '-ai', 'st1']);
    try {
      await s.until(/# /);
      await s.keys('\x10', '\x11');
      assert.equal(await s.exit(), 0);
    } finally {
      s.kill();
    }
    assert.equal(state('st1'), 'running 0');
    await atPrompt('st1');
    const again = pty(['start', '-ai', 'st1']);
    try {
      await again.until(/# /);
      again.type('exit 5\r');
      assert.equal(await again.exit(), 5);
    } finally {
      again.kill();
    }
    await waitState('st1', /^exited 5$/);
    tsrunOk(root(), ['rm', 'st1']);
  });

  it('serves several clients at once: each sees the output, input from one reaches the container', async () => {
    tsrunOk(root(), ['run', '--network', 'none', '-dit', '--name', 'multi', 'busybox', 'sh']);
    await atPrompt('multi');
    const watcher = attachPiped(['--no-stdin', 'multi']);
    const a = pty(['attach', 'multi']);
    try {
      await a.until(/# /);
      // until the watcher is connected too: it sees what the shell prints from then on
      for (const end = Date.now() + PATIENCE; Date.now() < end && !/ping/.test(watcher.out.stdout); ) {
        a.type('echo ping\r');
        await sleep(500);
      }
      a.type('echo shared-$((10+1))\r');
      await a.until(/shared-11/);
      await watcher.until(/shared-11/);
      a.type('exit 6\r');
      assert.equal(await a.exit(), 6);
      assert.equal(await watcher.exited, 6);
    } finally {
      a.kill();
      watcher.child.kill('SIGKILL');
    }
    tsrunOk(root(), ['rm', 'multi']);
  });

  it('run -di: plain stdio, stdout and stderr apart, piped input; --no-stdin sends nothing', async () => {
    tsrunOk(root(), ['run', '--network', 'none', '-di', '--name', 'plain', 'busybox', 'sh']);
    // --no-stdin: its input never reaches the container
    const quiet = attachPiped(['--no-stdin', 'plain']);
    quiet.child.stdin.end('exit 9\n');
    const a = attachPiped(['plain']);
    // both connected once the quiet one sees what the other's input made the shell print
    for (const end = Date.now() + PATIENCE; Date.now() < end && !/ping/.test(quiet.out.stdout); ) {
      a.child.stdin.write('echo ping\n');
      await sleep(500);
    }
    assert.equal(state('plain'), 'running 0');
    a.child.stdin.write('echo piped-$((1+1)); echo oops >&2\n');
    await a.until(/piped-2/);
    await a.until(/oops/, 'stderr');
    await quiet.until(/piped-2/);
    assert.doesNotMatch(a.out.stdout, /oops/);
    a.child.stdin.end('exit 3\n');
    assert.equal(await a.exited, 3);
    assert.equal(await quiet.exited, 3);
    await waitState('plain', /^exited 3$/);
    // the log has it all too, as docker's json-file driver
    assert.match(tsrunOk(root(), ['logs', 'plain']), /piped-2/);
    tsrunOk(root(), ['rm', 'plain']);
  });

  it('--sig-proxy: a signal to attach reaches the container; --sig-proxy=false ends only the attach', async () => {
    tsrunOk(root(), ['run', '--network', 'none', '-d', '--name', 'sig', 'busybox', 'sh', '-c', 'trap "echo got-usr1" USR1; trap "echo got-term; exit 11" TERM; while true; do echo tick; sleep 0.2; done']);
    const off = attachPiped(['--sig-proxy=false', 'sig']);
    await off.until(/tick/); // connected
    off.child.kill('SIGUSR1');
    assert.equal(await off.exited, 128 + 10);
    await sleep(300);
    assert.equal(state('sig'), 'running 0');
    const on = attachPiped(['sig']);
    await on.until(/tick/);
    on.child.kill('SIGUSR1');
    await on.until(/got-usr1/);
    on.child.kill('SIGTERM');
    await on.until(/got-term/);
    assert.equal(await on.exited, 11);
    tsrunOk(root(), ['rm', 'sig']);
  });

  it('custom keys: --detach-keys ctrl-a,x (a partial sequence passes through), and detachKeys from config.json', async () => {
    const r = pty(['run', '--network', 'none', '-it', '--name', 'keys', '--detach-keys', 'ctrl-a,x', 'busybox', 'cat']);
    try {
      await r.untilRaw(); // the monitor puts the terminal in raw mode as it starts copying (cat says nothing)
      await waitState('keys', /^running 0$/); // tsrun records the start as the monitor starts copying
      // ctrl-a then y: not the sequence, so both reach cat (its pty echoes ^A)
      await r.keys('\x01', 'y', 'z', '\r');
      await r.until(/\^Ayz/);
      // ctrl-p ctrl-q are plain keys with other detach keys (ctrl-q is the container pty's START: echoed as nothing)
      await r.keys('\x10', '\x11', 'w', '\r');
      await r.until(/\^Pw/);
      await r.keys('\x01', 'x');
      assert.equal(await r.exit(), 0);
    } finally {
      r.kill();
    }
    assert.equal(state('keys'), 'running 0');
    const cfg = path.join(t().scratch, 'dockercfg');
    fs.mkdirSync(cfg, { recursive: true });
    fs.writeFileSync(path.join(cfg, 'config.json'), JSON.stringify({ detachKeys: 'ctrl-e,e' }));
    const a = pty(['attach', 'keys'], { DOCKER_CONFIG: cfg });
    try {
      await a.untilRaw(); // cat redraws nothing: the client connected once it made the terminal raw
      await a.keys('\x05', 'e');
      assert.equal(await a.exit(), 1);
      assert.match(a.text, /read escape sequence/);
    } finally {
      a.kill();
    }
    // the flag wins over config.json
    const b = pty(['attach', '--detach-keys', 'ctrl-@', 'keys'], { DOCKER_CONFIG: cfg });
    try {
      await b.untilRaw();
      await b.keys('\x00');
      assert.equal(await b.exit(), 1);
    } finally {
      b.kill();
    }
    assert.equal(state('keys'), 'running 0');
    tsrunOk(root(), ['rm', '-f', 'keys']);
  });

  it('refuses bad detach keys, stopped, created and missing containers with one line, changing nothing', () => {
    // no network: a bridge's teardown, handed to a job after a foreground exit, would change the store meanwhile
    tsrunOk(root(), ['create', '--network', 'none', '--name', 'made', 'busybox', 'true']);
    tsrunOk(root(), ['run', '--network', 'none', '--name', 'done', 'busybox', 'true']);
    tsrunOk(root(), ['run', '-dit', '--network', 'none', '--name', 'up', 'busybox', 'sh']);
    const before = snapshotTree(root());
    const cases: [string[], number, RegExp][] = [
      [['attach', 'nope'], 1, /^tsrun: No such container: nope/],
      [['attach', 'made'], 1, /^tsrun: You cannot attach to a stopped container, start it first\n$/],
      [['attach', 'done'], 1, /^tsrun: You cannot attach to a stopped container, start it first\n$/],
      [['attach', '--detach-keys', 'ctrl-P', 'up'], 1, /^tsrun: Invalid detach keys \(ctrl-P\) provided/],
      [['attach', '--detach-keys', 'a,,b', 'up'], 1, /^tsrun: Invalid detach keys \(a,,b\) provided/],
      [['run', '--detach-keys', 'ctrl-x,9x', 'busybox', 'true'], 125, /^tsrun: Invalid detach keys \(ctrl-x,9x\) provided/],
      [['start', '-a', '--detach-keys', 'bad', 'made'], 1, /^tsrun: Invalid detach keys \(bad\) provided/],
      // a terminal container needs a terminal for its stdin (docker's CheckTty)
      [['attach', 'up'], 1, /^tsrun: the input device is not a TTY\n$/],
    ];
    for (const [args, code, re] of cases) {
      const r = tsrun(root(), args, { input: '' });
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
    }
    assert.deepEqual(snapshotTree(root()), before);
    assert.equal(state('up'), 'running 0');
    tsrunOk(root(), ['pause', 'up']);
    const paused = tsrun(root(), ['attach', '--no-stdin', 'up'], { input: '' });
    assert.equal(paused.code, 1);
    assert.equal(paused.stderr, 'tsrun: You cannot attach to a paused container, unpause it first\n');
    tsrunOk(root(), ['unpause', 'up']);
    const bad = path.join(t().scratch, 'badcfg');
    fs.mkdirSync(bad, { recursive: true });
    fs.writeFileSync(path.join(bad, 'config.json'), JSON.stringify({ detachKeys: 'nope' }));
    const r = tsrun(root(), ['attach', 'up'], { env: { DOCKER_CONFIG: bad } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Invalid detach keys \(nope\) provided/);
    tsrunOk(root(), ['rm', '-f', 'made', 'done', 'up']);
  });
});
