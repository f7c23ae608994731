/**
 * More of docker's attach behaviour, through the real CLI on real terminals
 * (test/helpers/pty.ts): the detach keys on `exec -it` (the exec'd process
 * runs on, the CLI ends as docker's does), detach keys typed in separate
 * reads on every path (moby/term's escape proxy keeps its place between
 * reads; a broken sequence passes on every byte), and stdin's end as docker's
 * StdinOnce has it: `run -i`/`create -i` containers get their stdin closed
 * when an attach's stdin ends, `run -di` ones keep it open; inspect shows
 * Config.AttachStdin/AttachStdout/AttachStderr/OpenStdin/StdinOnce as docker's.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tsrun, tsrunOk, tsrunSpawn, snapshotTree, useBusyboxRoot } from '../helpers/cli.js';
import { PtySession, PATIENCE, sleep } from '../helpers/pty.js';

// Containers here have no network (--network none): a bridge's setup and teardown wait for the one
// host-wide netavark lock, which other tests' networks may hold for many seconds on a busy machine.
const t = useBusyboxRoot();
const root = () => t().root;
const state = (name: string) => tsrunOk(root(), ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]).trim();
const pty = (args: string[], env?: Record<string, string>) => new PtySession(['--root', root(), ...args], env);
/** Long enough that each key is surely a read of its own for whoever reads the terminal. */
const APART = 400;

async function waitState(name: string, want: RegExp): Promise<void> {
  for (const end = Date.now() + PATIENCE; Date.now() < end && !want.test(state(name)); ) await sleep(100);
  assert.match(state(name), want);
}

/** Types keys one write each, APART ms between. */
async function apart(s: PtySession, ...ks: string[]): Promise<void> {
  for (const k of ks) {
    s.type(k);
    await sleep(APART);
  }
}

/** A piped `tsrun attach`: its output as it comes, and its status. */
function attachPiped(args: string[]) {
  const child = tsrunSpawn(root(), ['attach', ...args]);
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  let code: number | undefined;
  const exited = new Promise<number>((resolve) => child.on('exit', (c, sig) => resolve((code = c ?? (sig ? 128 : -1)))));
  const until = async (re: RegExp) => {
    for (const end = Date.now() + PATIENCE; Date.now() < end && !re.test(out.stdout); ) await sleep(100);
    assert.match(out.stdout, re);
  };
  return { child, out, exited, until, running: () => code === undefined };
}

describe('attach: exec -it detach keys, keys across reads, StdinOnce', () => {
  it('exec -it: ctrl-p ctrl-q typed apart end the exec with docker\'s line and status 1; the process runs on', async () => {
    tsrunOk(root(), ['run', '--network', 'none', '-d', '--name', 'ex1', 'busybox', 'sleep', '1000']);
    const e = pty(['exec', '-it', 'ex1', 'sh']);
    let pid = '';
    try {
      await e.until(/# /);
      e.type('echo $$ > /tmp/sh.pid; echo pid-$$-ready\r');
      await e.until(/pid-(\d+)-ready/);
      pid = /pid-(\d+)-ready/.exec(e.text)![1]!;
      // each key a read of its own: the monitor keeps its place in the sequence between reads
      await apart(e, '\x10', '\x11');
      assert.equal(await e.exit(), 1);
      assert.match(e.text, /read escape sequence/);
    } finally {
      e.kill();
    }
    // the exec'd shell is still there, and so is the container
    assert.equal(state('ex1'), 'running 0');
    const alive = tsrun(root(), ['exec', 'ex1', 'sh', '-c', `kill -0 ${pid} && echo alive`]);
    assert.equal(alive.stdout, 'alive\n', alive.stderr);
    tsrunOk(root(), ['rm', '-f', 'ex1']);
  });

  it('exec -it --detach-keys ctrl-a,x: a broken sequence split across reads passes both keys; config.json detachKeys', async () => {
    tsrunOk(root(), ['run', '--network', 'none', '-d', '--name', 'ex2', 'busybox', 'sleep', '1000']);
    const e = pty(['exec', '-it', '--detach-keys', 'ctrl-a,x', 'ex2', 'sh', '-c', 'echo ready; exec cat']);
    try {
      await e.until(/ready/); // output is copied only once the monitor made the terminal raw
      // ctrl-a in one read, y in the next: not the sequence, so cat gets both (its pty echoes ^A)
      await apart(e, '\x01', 'y', 'z', '\r');
      await e.until(/\^Ayz/);
      // ctrl-p ctrl-q are plain keys under other detach keys (ctrl-q is the pty's START: echoed as nothing)
      await apart(e, '\x10', '\x11', 'w', '\r');
      await e.until(/\^Pw/);
      await apart(e, '\x01', 'x');
      assert.equal(await e.exit(), 1);
      assert.match(e.text, /read escape sequence/);
    } finally {
      e.kill();
    }
    const cats = tsrunOk(root(), ['exec', 'ex2', 'sh', '-c', 'pidof cat || true']).trim();
    assert.match(cats, /^\d+$/, 'the detached cat runs on');
    const cfg = path.join(t().scratch, 'dockercfg-exec');
    fs.mkdirSync(cfg, { recursive: true });
    fs.writeFileSync(path.join(cfg, 'config.json'), JSON.stringify({ detachKeys: 'ctrl-e,e' }));
    const c = pty(['exec', '-it', 'ex2', 'sh'], { DOCKER_CONFIG: cfg });
    try {
      await c.until(/# /);
      await apart(c, '\x05', 'e');
      assert.equal(await c.exit(), 1);
    } finally {
      c.kill();
    }
    tsrunOk(root(), ['rm', '-f', 'ex2']);
  });

  it('run -it and attach: a lone ctrl-p followed later by another key passes both; ctrl-p, pause, ctrl-q detaches', async () => {
    const r = pty(['run', '--network', 'none', '-it', '--name', 'split', 'busybox', 'sh', '-c', 'echo ready; exec cat']);
    try {
      await r.until(/ready/); // output is copied only once the monitor made the terminal raw
      await apart(r, '\x10', 'a', '\r');
      await r.until(/\^Pa/);
      await apart(r, '\x10', '\x11');
      assert.equal(await r.exit(), 0);
    } finally {
      r.kill();
    }
    // through the attach socket (each key one message to the monitor)
    const a = pty(['attach', 'split']);
    try {
      await a.untilRaw(); // cat redraws nothing on attach: the client connected once it made the terminal raw
      await apart(a, '\x10', 'b', '\r');
      await a.until(/\^Pb/);
      await apart(a, '\x10', '\x10', '\x11', 'c', '\r'); // docker: the second ctrl-p does not start a new sequence
      await a.until(/\^P\^Pc/);
      assert.equal(state('split'), 'running 0');
      await apart(a, '\x10', '\x11');
      assert.equal(await a.exit(), 1);
    } finally {
      a.kill();
    }
    assert.equal(state('split'), 'running 0');
    tsrunOk(root(), ['rm', '-f', 'split']);
  });

  it('run -i with piped stdin: the container reads it to its end and exits', () => {
    const r = tsrun(root(), ['run', '--network', 'none', '--rm', '-i', 'busybox', 'cat'], { input: 'hi\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hi\n');
    const wc = tsrun(root(), ['run', '--network', 'none', '--rm', '-i', 'busybox', 'wc', '-l'], { input: 'a\nb\nc\n' });
    assert.equal(wc.stdout.trim(), '3');
  });

  it('inspect: Config.AttachStdin/AttachStdout/AttachStderr/OpenStdin/StdinOnce as docker sets them', () => {
    const f = '{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}} {{.Config.OpenStdin}} {{.Config.StdinOnce}}';
    tsrunOk(root(), ['run', '--network', 'none', '-i', '--name', 'fi', 'busybox', 'true'], { input: '' });
    tsrunOk(root(), ['run', '--network', 'none', '-di', '--name', 'di', 'busybox', 'cat']);
    tsrunOk(root(), ['run', '--network', 'none', '-d', '--name', 'dd', 'busybox', 'true']);
    tsrunOk(root(), ['run', '--network', 'none', '--name', 'plainrun', 'busybox', 'true']);
    tsrunOk(root(), ['create', '--network', 'none', '-i', '--name', 'ci', 'busybox', 'cat']);
    tsrunOk(root(), ['create', '--network', 'none', '--name', 'cc', 'busybox', 'true']);
    const want: Record<string, string> = {
      fi: 'true true true true true',
      di: 'false false false true false',
      dd: 'false false false false false',
      plainrun: 'false true true false false',
      ci: 'true true true true true',
      cc: 'false true true false false',
    };
    for (const [name, w] of Object.entries(want)) assert.equal(tsrunOk(root(), ['inspect', '-f', f, name]).trim(), w, name);
    tsrunOk(root(), ['rm', '-f', ...Object.keys(want)]);
  });

  it('StdinOnce (create -i): the end of an attach\'s stdin closes the container\'s; run -di keeps it open', async () => {
    tsrunOk(root(), ['create', '--network', 'none', '-i', '--name', 'once', 'busybox', 'sh', '-c', 'cat; echo stdin-closed; exit 3']);
    tsrunOk(root(), ['start', 'once']);
    const a = attachPiped(['once']);
    a.child.stdin.end('hi-once\n');
    await a.until(/hi-once\nstdin-closed\n/);
    assert.equal(await a.exited, 3);
    await waitState('once', /^exited 3$/);

    tsrunOk(root(), ['run', '--network', 'none', '-di', '--name', 'keep', 'busybox', 'sh', '-c', 'cat; echo stdin-closed']);
    const b = attachPiped(['--sig-proxy=false', 'keep']);
    b.child.stdin.end('hi-keep\n');
    await b.until(/hi-keep\n/);
    await sleep(1000);
    // docker: StdinOnce is false for run -d, so cat still reads; attach waits for the container's end
    assert.doesNotMatch(b.out.stdout, /stdin-closed/);
    assert.ok(b.running(), 'attach still attached');
    assert.equal(state('keep'), 'running 0');
    // and a second client can still write to it
    const c = attachPiped(['--sig-proxy=false', 'keep']);
    c.child.stdin.write('second\n'); // read by the client once it is connected
    await c.until(/second\n/);
    b.child.kill('SIGTERM');
    c.child.kill('SIGTERM');
    await Promise.all([b.exited, c.exited]);
    assert.equal(state('keep'), 'running 0');
    tsrunOk(root(), ['rm', '-f', 'once', 'keep']);
  });

  it('start -a without -i leaves the container\'s stdin to attach; start -ai without StdinOnce keeps it open at our end', async () => {
    tsrunOk(root(), ['create', '--network', 'none', '-i', '--name', 'sa', 'busybox', 'sh', '-c', 'read x; echo got-$x']);
    const s = tsrunSpawn(root(), ['start', '-a', 'sa']);
    let out = '';
    s.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // 'close': its output is all in then ('exit' may come before the last of it)
    const sExit = new Promise<number>((resolve) => s.on('close', (c) => resolve(c ?? -1)));
    s.stdin.end('from-start\n'); // docker: not attached without -i, so never read
    await waitState('sa', /^running/);
    await sleep(1000);
    assert.doesNotMatch(out, /got-/);
    assert.equal(state('sa'), 'running 0');
    const a = attachPiped(['sa']);
    a.child.stdin.end('from-attach\n');
    await a.until(/got-from-attach/);
    assert.equal(await a.exited, 0);
    assert.equal(await sExit, 0);
    assert.match(out, /got-from-attach/);

    // made by run -di (no StdinOnce), stopped, then start -ai with piped stdin: cat reads it and goes on reading
    tsrunOk(root(), ['run', '--network', 'none', '-di', '--name', 'k2', 'busybox', 'sh', '-c', 'cat; echo stdin-closed']);
    tsrunOk(root(), ['kill', 'k2']);
    await waitState('k2', /^exited/);
    const k = tsrunSpawn(root(), ['start', '-ai', 'k2']);
    let kout = '';
    k.stdout.on('data', (d: Buffer) => (kout += d.toString()));
    const kExit = new Promise<number>((resolve) => k.on('exit', (c) => resolve(c ?? -1)));
    k.stdin.end('typed\n');
    for (const end = Date.now() + PATIENCE; Date.now() < end && !/typed/.test(kout); ) await sleep(100);
    assert.match(kout, /typed\n/);
    await sleep(1000);
    assert.doesNotMatch(kout, /stdin-closed/);
    assert.equal(state('k2'), 'running 0');
    tsrunOk(root(), ['stop', '-t', '1', 'k2']);
    assert.equal(await kExit, 137); // sh as PID 1 ignores SIGTERM: killed after -t 1
    tsrunOk(root(), ['rm', '-f', 'sa', 'k2']);
  });

  it('refuses bad exec detach keys with docker\'s one line and status 1, changing nothing', () => {
    tsrunOk(root(), ['run', '-d', '--network', 'none', '--name', 'up', 'busybox', 'sleep', '1000']);
    const before = snapshotTree(root());
    for (const args of [
      ['exec', '--detach-keys', 'ctrl-P', 'up', 'true'],
      ['exec', '-d', '--detach-keys', 'a,,b', 'up', 'true'],
      ['exec', '-i', '--detach-keys', 'shift-a', 'up', 'true'],
    ]) {
      const r = tsrun(root(), args, { input: '' });
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^tsrun: Invalid escape keys \(.*\) provided/, args.join(' '));
      assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
    }
    assert.deepEqual(snapshotTree(root()), before);
    const ok = tsrun(root(), ['exec', '--detach-keys', 'ctrl-a,x', 'up', 'echo', 'fine']);
    assert.equal(ok.stdout, 'fine\n', ok.stderr);
    tsrunOk(root(), ['rm', '-f', 'up']);
  });
});
